//! Reading condition values as the typed scalars of the non-string operator families: numbers,
//! dates, booleans and IPv4 ranges. Every reader returns `None` for text it cannot read, and the
//! caller decides what that means.

use std::net::Ipv4Addr;

/// A decimal number (`10`, `-1.5`).
pub(crate) fn number(text: &str) -> Option<f64> {
    text.trim().parse::<f64>().ok().filter(|n| n.is_finite())
}

/// `true` or `false`, in any letter case (policies write both `true` and `"true"`).
pub(crate) fn boolean(text: &str) -> Option<bool> {
    if text.eq_ignore_ascii_case("true") {
        Some(true)
    } else if text.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// A date as seconds since the Unix epoch: epoch seconds, or a W3C profile of ISO 8601
/// (`2024`, `2024-05`, `2024-05-01`, `2024-05-01T12:30`, `…:45`, `…:45.5`, then `Z` or `±hh:mm`;
/// no zone means UTC). The IAM guide names exactly these two forms for the `Date*` operators.
pub(crate) fn date(text: &str) -> Option<f64> {
    let text = text.trim();
    let numeric = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    // A bare four-digit number is an ISO year; epoch seconds of any date after 1970-01-01 02:46 are
    // longer, so the two forms do not collide in practice.
    if numeric && text.len() != 4 {
        return number(text);
    }
    iso8601(text)
}

fn iso8601(text: &str) -> Option<f64> {
    let (date_part, time_part) = match text.split_once(['T', 't']) {
        Some((d, t)) => (d, Some(t)),
        None => (text, None),
    };
    let days = civil_days(date_part)?;
    let seconds = match time_part {
        Some(t) => time_of_day(t)?,
        None => 0.0,
    };
    Some(days as f64 * 86_400.0 + seconds)
}

/// Days since 1970-01-01 for `YYYY`, `YYYY-MM` or `YYYY-MM-DD`.
fn civil_days(text: &str) -> Option<i64> {
    let mut parts = text.split('-');
    let year = fixed_digits(parts.next()?, 4)?;
    let month = parts.next().map_or(Some(1), |m| fixed_digits(m, 2))?;
    let day = parts.next().map_or(Some(1), |d| fixed_digits(d, 2))?;
    if parts.next().is_some()
        || !(1..=12).contains(&month)
        || !(1..=days_in_month(year, month)).contains(&day)
    {
        return None;
    }
    Some(days_since_epoch(year, month, day))
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Counts whole days from 1970-01-01: years first (with their leap days), then months, then days.
fn days_since_epoch(year: i64, month: i64, day: i64) -> i64 {
    let leap_days_before = |y: i64| {
        let y = y - 1;
        y.div_euclid(4) - y.div_euclid(100) + y.div_euclid(400)
    };
    let year_days = (year - 1970) * 365 + leap_days_before(year) - leap_days_before(1970);
    let month_days: i64 = (1..month).map(|m| days_in_month(year, m)).sum();
    year_days + month_days + day - 1
}

/// Seconds into the day for `hh:mm[:ss[.frac]]` followed by an optional zone, as UTC.
fn time_of_day(text: &str) -> Option<f64> {
    let (clock, offset) = split_zone(text)?;
    let mut parts = clock.split(':');
    let hours = fixed_digits(parts.next()?, 2)?;
    let minutes = fixed_digits(parts.next()?, 2)?;
    let seconds = match parts.next() {
        Some(s) => seconds_field(s)?,
        None => 0.0,
    };
    if parts.next().is_some() || hours > 23 || minutes > 59 || seconds >= 61.0 {
        return None;
    }
    Some((hours * 3600 + minutes * 60) as f64 + seconds - offset)
}

/// Splits the zone designator off a time, returning the clock text and the offset in seconds.
fn split_zone(text: &str) -> Option<(&str, f64)> {
    if let Some(clock) = text.strip_suffix(['Z', 'z']) {
        return Some((clock, 0.0));
    }
    match text.rfind(['+', '-']) {
        Some(at) => {
            let (clock, zone) = text.split_at(at);
            let sign = if zone.starts_with('-') { -1.0 } else { 1.0 };
            let (h, m) = zone[1..].split_once(':')?;
            let (h, m) = (fixed_digits(h, 2)?, fixed_digits(m, 2)?);
            Some((clock, sign * (h * 3600 + m * 60) as f64))
        }
        None => Some((text, 0.0)),
    }
}

fn seconds_field(text: &str) -> Option<f64> {
    let whole = text.split('.').next()?;
    if whole.len() != 2 || !text.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    number(text)
}

fn fixed_digits(text: &str, width: usize) -> Option<i64> {
    if text.len() == width && text.bytes().all(|b| b.is_ascii_digit()) {
        text.parse().ok()
    } else {
        None
    }
}

/// An IPv4 range: an address with an optional `/prefix` (no prefix means `/32`, as in IAM).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ipv4Range {
    network: u32,
    prefix: u32,
}

impl Ipv4Range {
    pub(crate) fn parse(text: &str) -> Option<Self> {
        let (addr, prefix) = match text.trim().split_once('/') {
            Some((a, p)) => (a, p.parse::<u32>().ok().filter(|p| *p <= 32)?),
            None => (text.trim(), 32),
        };
        let network = u32::from(addr.parse::<Ipv4Addr>().ok()?);
        Some(Ipv4Range { network, prefix })
    }

    pub(crate) fn contains(self, addr: Ipv4Addr) -> bool {
        let mask = u32::MAX.checked_shl(32 - self.prefix).unwrap_or(0);
        u32::from(addr) & mask == self.network & mask
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_in_both_documented_forms() {
        assert_eq!(date("1970-01-01T00:00:00Z"), Some(0.0));
        assert_eq!(date("2020-01-01T00:00:01Z"), Some(1_577_836_801.0));
        assert_eq!(date("1577836801"), Some(1_577_836_801.0));
        assert_eq!(date("2020-01-01"), Some(1_577_836_800.0));
        assert_eq!(date("2020"), Some(1_577_836_800.0));
        assert_eq!(date("2020-03"), Some(1_583_020_800.0));
        assert_eq!(date("2024-02-29T12:00:00Z"), Some(1_709_208_000.0));
        assert_eq!(date("2020-01-01T01:00:00+01:00"), Some(1_577_836_800.0));
        assert_eq!(date("2019-12-31T23:00:00-01:00"), Some(1_577_836_800.0));
        assert_eq!(date("2020-01-01T00:00:00.5Z"), Some(1_577_836_800.5));
        assert_eq!(date("1969-12-31T23:59:59Z"), Some(-1.0));
    }

    #[test]
    fn malformed_dates_are_rejected() {
        for bad in [
            "",
            "yesterday",
            "2023-02-29",
            "2020-13-01",
            "2020-01-01T25:00Z",
            "2020-1-1",
        ] {
            assert_eq!(date(bad), None, "{bad}");
        }
    }

    #[test]
    fn ipv4_ranges() {
        let range = Ipv4Range::parse("203.0.113.0/24").expect("range");
        assert!(range.contains("203.0.113.7".parse().expect("ip")));
        assert!(!range.contains("203.0.114.7".parse().expect("ip")));
        let host = Ipv4Range::parse("10.0.0.1").expect("host");
        assert!(host.contains("10.0.0.1".parse().expect("ip")));
        assert!(!host.contains("10.0.0.2".parse().expect("ip")));
        let all = Ipv4Range::parse("0.0.0.0/0").expect("all");
        assert!(all.contains("192.0.2.1".parse().expect("ip")));
        assert_eq!(Ipv4Range::parse("10.0.0.0/33"), None);
        assert_eq!(Ipv4Range::parse("2001:db8::/32"), None);
    }

    #[test]
    fn booleans_and_numbers() {
        assert_eq!(boolean("TRUE"), Some(true));
        assert_eq!(boolean("false"), Some(false));
        assert_eq!(boolean("yes"), None);
        assert_eq!(number("10"), Some(10.0));
        assert_eq!(number("1e400"), None);
        assert_eq!(number("ten"), None);
    }
}
