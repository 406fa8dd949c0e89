//! The progress bar on stderr: accounts done, targets, errors so far, ETA. Hidden when stderr is
//! not a terminal or with `--quiet`.

use std::sync::atomic::{AtomicU64, Ordering};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

pub(crate) struct Progress {
    bar: ProgressBar,
    targets: AtomicU64,
    accounts_with_errors: AtomicU64,
}

impl Progress {
    pub(crate) fn new(accounts: u64, visible: bool) -> Self {
        let bar = ProgressBar::with_draw_target(
            Some(accounts),
            if visible {
                ProgressDrawTarget::stderr()
            } else {
                ProgressDrawTarget::hidden()
            },
        );
        if let Ok(style) = ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} accounts · {msg} · ETA {eta}",
        ) {
            bar.set_style(style);
        }
        if visible {
            // Drawn from the start, not only when the first account is done.
            bar.set_message("starting");
            bar.enable_steady_tick(std::time::Duration::from_millis(250));
        }
        Progress {
            bar,
            targets: AtomicU64::new(0),
            accounts_with_errors: AtomicU64::new(0),
        }
    }

    /// One account done, of `listed` so far (an organization is listed while it is scanned).
    pub(crate) fn account_done(&self, targets: usize, had_errors: bool, listed: usize) {
        self.bar.set_length(listed as u64);
        let t = self.targets.fetch_add(targets as u64, Ordering::Relaxed) + targets as u64;
        let e = self
            .accounts_with_errors
            .fetch_add(u64::from(had_errors), Ordering::Relaxed)
            + u64::from(had_errors);
        self.bar
            .set_message(format!("{t} account-regions · {e} accounts with errors"));
        self.bar.inc(1);
    }

    pub(crate) fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
