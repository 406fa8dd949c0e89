//! The one async runtime every AWS command runs on.

use anyhow::{Context as _, Result};

/// Stack of each worker thread. An organization scan runs each account as a task on the workers
/// (`fanout::scan_accounts`), and that future nests deeply (the SDK's orchestrator inside the
/// collectors' streams), more so in a debug build: tokio's 2 MiB default overflows where the
/// main thread's 8 MiB did not.
const WORKER_STACK: usize = 8 * 1024 * 1024;

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(WORKER_STACK)
        .build()
        .context("starting the async runtime")
}
