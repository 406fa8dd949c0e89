//! Exit codes, as documented in the README. A CI job can tell each outcome apart.

use std::process::ExitCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exit {
    /// The scan was complete and found nothing at or above the `--fail-on` threshold.
    Clean = 0,
    /// The scan was complete and found failures at or above the threshold.
    Findings = 1,
    /// Bad usage or configuration: flags, credentials, profile, endpoint. Nothing was scanned.
    Config = 2,
    /// Some targets could not be read: the results are incomplete, whatever else they say.
    Incomplete = 3,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> Self {
        ExitCode::from(e as u8)
    }
}
