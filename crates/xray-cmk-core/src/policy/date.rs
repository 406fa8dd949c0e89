//! A calendar date without a time of day, just enough for exemption expiry. The crate has no clock
//! and no date library: callers pass today's date, and the policy file only ever names whole days.

use std::fmt;
use std::str::FromStr;

/// A real day of the proleptic Gregorian calendar, years 1 to 9999. The fields are private so that
/// every `Date` in the program is a valid one; the derived order (year, month, day) is chronological.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    year: u16,
    month: u8,
    day: u8,
}

impl Date {
    /// The date, or `None` when the day does not exist (`2027-02-30`, month 13, year 0).
    pub fn new(year: u16, month: u8, day: u8) -> Option<Date> {
        let exists = (1..=9999).contains(&year)
            && (1..=12).contains(&month)
            && (1..=days_in_month(year, month)).contains(&day);
        exists.then_some(Date { year, month, day })
    }

    pub fn year(self) -> u16 {
        self.year
    }

    pub fn month(self) -> u8 {
        self.month
    }

    pub fn day(self) -> u8 {
        self.day
    }
}

fn is_leap_year(year: u16) -> bool {
    year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400))
}

fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// Text that is not a `YYYY-MM-DD` date of a day that exists.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a valid date (expected YYYY-MM-DD, like 2027-06-30)")]
pub struct InvalidDate(pub String);

impl FromStr for Date {
    type Err = InvalidDate;

    /// Parses exactly `YYYY-MM-DD`: no time, no offset, no shorter fields, so that what the file
    /// says is exactly what the report will print back.
    fn from_str(text: &str) -> Result<Date, InvalidDate> {
        parse_ymd(text).ok_or_else(|| InvalidDate(text.to_owned()))
    }
}

fn parse_ymd(text: &str) -> Option<Date> {
    let bytes = text.as_bytes();
    if bytes.len() != 10 || bytes.get(4) != Some(&b'-') || bytes.get(7) != Some(&b'-') {
        return None;
    }
    let year = digits(text.get(0..4)?)?;
    let month = digits(text.get(5..7)?)?;
    let day = digits(text.get(8..10)?)?;
    Date::new(year, u8::try_from(month).ok()?, u8::try_from(day).ok()?)
}

/// A field of ASCII digits only; `u16::from_str` alone would also take a leading `+`.
fn digits(field: &str) -> Option<u16> {
    if field.bytes().all(|b| b.is_ascii_digit()) {
        field.parse().ok()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::Date;
    use proptest::prelude::*;

    #[test]
    fn parses_and_prints_iso_dates() {
        let date: Date = "2027-06-30".parse().expect("valid date");
        assert_eq!((date.year(), date.month(), date.day()), (2027, 6, 30));
        assert_eq!(date.to_string(), "2027-06-30");
    }

    #[test]
    fn knows_leap_years() {
        assert!(Date::new(2028, 2, 29).is_some());
        assert!(Date::new(2000, 2, 29).is_some());
        assert!(Date::new(2027, 2, 29).is_none());
        assert!(Date::new(2100, 2, 29).is_none());
    }

    #[test]
    fn rejects_malformed_or_impossible_dates() {
        for text in [
            "",
            "2027-6-30",
            "2027-06-31",
            "2027-13-01",
            "2027-00-10",
            "0000-01-01",
            "2027/06/30",
            "2027-06-30T00:00:00",
            "+027-06-30",
            "20270-6-30",
            "2027-06-3x",
        ] {
            assert!(text.parse::<Date>().is_err(), "{text}");
        }
    }

    #[test]
    fn orders_chronologically() {
        let parse = |t: &str| t.parse::<Date>().expect("valid date");
        assert!(parse("2026-12-31") < parse("2027-01-01"));
        assert!(parse("2027-01-31") < parse("2027-02-01"));
        assert!(parse("2027-02-01") < parse("2027-02-02"));
    }

    proptest! {
        #[test]
        fn display_round_trips(year in 1u16..=9999, month in 1u8..=12, day in 1u8..=31) {
            if let Some(date) = Date::new(year, month, day) {
                prop_assert_eq!(date.to_string().parse::<Date>(), Ok(date));
            }
        }
    }
}
