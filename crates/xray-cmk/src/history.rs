//! The history database every `audit`, `apply` and `iac scan` records into (`--db`,
//! `--no-history`), and `xray-cmk kpi` reads.

use std::path::PathBuf;

use anyhow::{anyhow, Result};
use xray_cmk_core::Finding;
use xray_cmk_store::{Run, StepRecord, Store};

use crate::cli::HistoryArgs;

/// Turns history off when set to anything but empty or `0`, unless `--db` names a database.
const NO_HISTORY_ENV: &str = "XRAY_CMK_NO_HISTORY";

/// The database to record into, if history is on. Opened before any AWS call, so a corrupt or
/// newer database stops the command before it does anything.
pub fn open(args: &HistoryArgs) -> Result<Option<Store>> {
    let env_off = std::env::var(NO_HISTORY_ENV).is_ok_and(|v| !v.is_empty() && v != "0");
    if args.no_history || (env_off && args.db.is_none()) {
        return Ok(None);
    }
    let path = path(args)?;
    Ok(Some(Store::open(&path)?))
}

/// `--db`, else the default path in the user's data directory.
pub fn path(args: &HistoryArgs) -> Result<PathBuf> {
    args.db.clone().or_else(xray_cmk_store::default_path).ok_or_else(|| {
        anyhow!("no history database path: HOME and XDG_DATA_HOME are unset; pass --db PATH or --no-history")
    })
}

/// A run being recorded. Write errors are reported once on stderr and never stop the command:
/// its results are printed whatever happens to the history.
pub struct Recording {
    store: Store,
    id: Option<i64>,
    failed: bool,
}

impl Recording {
    pub fn start(store: Option<Store>, run: &Run<'_>) -> Option<Recording> {
        let mut store = store?;
        let id = match store.begin(run) {
            Ok(id) => Some(id),
            Err(e) => {
                eprintln!("warning: not recorded in the history: {e}");
                None
            }
        };
        Some(Recording {
            store,
            id,
            failed: id.is_none(),
        })
    }

    pub fn add(&mut self, findings: &[Finding], steps: &[StepRecord<'_>]) {
        let Some(id) = self.id else { return };
        if let Err(e) = self.store.add(id, findings, steps) {
            if !self.failed {
                eprintln!("warning: the history is incomplete for this run: {e}");
            }
            self.failed = true;
        }
    }

    pub fn finish(mut self, finished_at: &str, exit_code: i32) {
        let Some(id) = self.id else { return };
        if self.failed {
            // Leave it unfinished: a partial run must not count in the KPIs.
            return;
        }
        if let Err(e) = self.store.finish(id, finished_at, Some(exit_code)) {
            eprintln!("warning: not recorded in the history: {e}");
        }
    }
}
