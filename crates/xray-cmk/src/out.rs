//! Standard output, for every command. A reader that went away (`xray-cmk rules | head -1`) ends
//! the output quietly: what is left is not written, and the command ends with the exit code it
//! would have had, as `audit` always did. Any other write error is reported once on stderr, and
//! the command then exits 2 ([`failed`]): output is never lost silently.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

/// The reader of stdout has gone: nothing more is written.
static CLOSED: AtomicBool = AtomicBool::new(false);
/// A write failed for another reason than a closed pipe.
static FAILED: AtomicBool = AtomicBool::new(false);

/// Writes `text` to stdout, and flushes it.
pub(crate) fn write(text: &str) {
    if CLOSED.load(Ordering::Relaxed) || FAILED.load(Ordering::Relaxed) {
        return;
    }
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            CLOSED.store(true, Ordering::Relaxed);
        } else {
            FAILED.store(true, Ordering::Relaxed);
            eprintln!("error: writing to stdout: {e}");
        }
    }
}

/// Whether a write to stdout failed for another reason than a closed pipe.
pub(crate) fn failed() -> bool {
    FAILED.load(Ordering::Relaxed)
}

/// `print!` through [`write`].
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::out::write(&format!($($arg)*))
    };
}

/// `println!` through [`write`].
macro_rules! outln {
    () => {
        $crate::out::write("\n")
    };
    ($($arg:tt)*) => {
        $crate::out::write(&format!("{}\n", format_args!($($arg)*)))
    };
}

pub(crate) use {out, outln};
