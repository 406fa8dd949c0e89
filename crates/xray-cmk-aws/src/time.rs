//! Times as xray-cmk prints and records them: RFC 3339, UTC, formatted with the SDK's date type
//! so that they read as the times AWS returns.

use std::time::SystemTime;

use aws_smithy_types::date_time::{DateTime, DateTimeFormatError, Format};

/// A time that cannot be written as RFC 3339 (outside the years 0001 to 9999).
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct TimeError(#[from] DateTimeFormatError);

/// `t` as RFC 3339 UTC (`2026-12-01T10:00:00.123Z`).
pub fn rfc3339(t: SystemTime) -> Result<String, TimeError> {
    Ok(DateTime::from(t).fmt(Format::DateTime)?)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn utc_with_a_z() {
        let t = UNIX_EPOCH + Duration::from_secs(1_796_083_200);
        assert_eq!(super::rfc3339(t).expect("formats"), "2026-12-01T00:00:00Z");
    }
}
