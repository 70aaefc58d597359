//! Timestamps: nom pieces for the date and time forms log headers use, and the conversion of
//! a civil (wall-clock) time to UTC in a configurable default zone.

use jiff::tz::{Offset, TimeZone};
use jiff::{SignedDuration, Timestamp, civil};
use nom::branch::alt;
use nom::bytes::complete::{tag, take_while_m_n};
use nom::character::complete::{char, one_of};
use nom::combinator::{map, opt, value};
use nom::{IResult, Parser};

/// A wall-clock time as a header writes it; parts a header leaves out are `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Civil {
    pub year: Option<i16>,
    /// Month and day; `None` for a time-only header.
    pub date: Option<(i8, i8)>,
    pub hour: i8,
    pub minute: i8,
    pub second: i8,
    pub nanos: i32,
    /// The UTC offset the header states, in seconds; `None` means the default zone.
    pub offset: Option<i32>,
}

/// Time of day: hour, minute, second and nanoseconds.
pub type Hms = (i8, i8, i8, i32);

impl Civil {
    /// A wall-clock time in the default zone, on `date` (month, day) of `year` (`None`: the
    /// assumed year).
    pub fn on(year: Option<i16>, date: (i8, i8), (hour, minute, second, nanos): Hms) -> Civil {
        Civil {
            year,
            date: Some(date),
            hour,
            minute,
            second,
            nanos,
            offset: None,
        }
    }
}

fn to_num(digits: &str) -> u32 {
    digits.bytes().fold(0, |n, b| n * 10 + u32::from(b - b'0'))
}

/// Exactly `n` ASCII digits as a number.
pub fn digits<'a>(
    n: usize,
) -> impl Parser<&'a str, Output = u32, Error = nom::error::Error<&'a str>> {
    map(take_while_m_n(n, n, |c: char| c.is_ascii_digit()), to_num)
}

/// One or two digits (`3:53:59 PM`, `May  6`).
pub fn digits12(i: &str) -> IResult<&str, u32> {
    map(take_while_m_n(1, 2, |c: char| c.is_ascii_digit()), to_num).parse(i)
}

/// A three-letter English month name, as 1..=12.
pub fn month_name(i: &str) -> IResult<&str, i8> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let Some(word) = i.get(..3) else {
        return Err(nom::Err::Error(nom::error::Error::new(
            i,
            nom::error::ErrorKind::Tag,
        )));
    };
    match MONTHS.iter().position(|m| *m == word) {
        Some(idx) => Ok((&i[3..], idx as i8 + 1)),
        None => Err(nom::Err::Error(nom::error::Error::new(
            i,
            nom::error::ErrorKind::Tag,
        ))),
    }
}

/// A fraction of a second after `.` or `,`, 1 to 9 digits, as nanoseconds.
fn fraction(i: &str) -> IResult<&str, i32> {
    let (rest, (_, frac)) = (
        one_of(".,"),
        take_while_m_n(1, 9, |c: char| c.is_ascii_digit()),
    )
        .parse(i)?;
    let scale = 10i32.pow(9 - frac.len() as u32);
    Ok((rest, to_num(frac) as i32 * scale))
}

/// `H:MM:SS` or `HH:MM:SS`, with an optional fraction.
pub fn time_of_day(i: &str) -> IResult<&str, Hms> {
    let (rest, (h, _, m, _, s, nanos)) = (
        digits12,
        char(':'),
        digits(2),
        char(':'),
        digits(2),
        opt(fraction),
    )
        .parse(i)?;
    if h > 23 || m > 59 || s > 60 {
        return Err(nom::Err::Error(nom::error::Error::new(
            i,
            nom::error::ErrorKind::Verify,
        )));
    }
    Ok((
        rest,
        (h as i8, m as i8, s.min(59) as i8, nanos.unwrap_or(0)),
    ))
}

/// `Z`, `+02:00`, `+0200` or `+02`, as seconds east of UTC.
pub fn utc_offset(i: &str) -> IResult<&str, i32> {
    let zulu = value(0, char('Z'));
    let numeric = map(
        (one_of("+-"), digits(2), opt(char(':')), opt(digits(2))),
        |(sign, h, _, m)| {
            let secs = (h * 3600 + m.unwrap_or(0) * 60) as i32;
            if sign == '-' { -secs } else { secs }
        },
    );
    alt((zulu, numeric)).parse(i)
}

/// `YYYY-MM-DD` or `YYYY/MM/DD`.
pub fn ymd(i: &str) -> IResult<&str, (i16, i8, i8)> {
    let (rest, (y, sep, m)) = (digits(4), one_of("-/"), digits(2)).parse(i)?;
    let (rest, (_, d)) = (char(sep), digits(2)).parse(rest)?;
    check_date(i, rest, y as i16, m as i8, d as i8)
}

fn check_date<'a>(
    i: &'a str,
    rest: &'a str,
    y: i16,
    m: i8,
    d: i8,
) -> IResult<&'a str, (i16, i8, i8)> {
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return Err(nom::Err::Error(nom::error::Error::new(
            i,
            nom::error::ErrorKind::Verify,
        )));
    }
    Ok((rest, (y, m, d)))
}

/// `DD-Mon-YYYY` (Tomcat's default `catalina.out`).
pub fn dmy_month_name(i: &str) -> IResult<&str, (i16, i8, i8)> {
    let (rest, (d, _, m, _, y)) =
        (digits(2), char('-'), month_name, char('-'), digits(4)).parse(i)?;
    check_date(i, rest, y as i16, m, d as i8)
}

/// ISO 8601 as logs write it: `2015-08-19 12:00:00,123`, `2015-08-19T12:00:00.123456Z`,
/// `2015/08/19 12:00:00` (Go), with an optional offset.
pub fn iso_datetime(i: &str) -> IResult<&str, Civil> {
    let (rest, ((y, mo, d), _, (h, mi, s, nanos), offset)) =
        (ymd, one_of(" T"), time_of_day, opt(utc_offset)).parse(i)?;
    let civil = Civil {
        year: Some(y),
        date: Some((mo, d)),
        hour: h,
        minute: mi,
        second: s,
        nanos,
        offset,
    };
    Ok((rest, civil))
}

/// `AM`/`PM` after a 12-hour time, turning it into 24-hour.
pub fn am_pm(i: &str) -> IResult<&str, bool> {
    alt((value(false, tag("AM")), value(true, tag("PM")))).parse(i)
}

/// Turns civil times into UTC timestamps, remembering the hour it last converted so that a
/// file's consecutive lines cost one zone lookup per hour, not per line.
#[derive(Debug, Clone)]
pub struct TimeResolver {
    zone: TimeZone,
    /// The year for headers that omit it (syslog RFC 3164, logcat).
    assume_year: i16,
    /// The date for time-only headers: the last full date seen, or the file name's.
    last_date: Option<(i16, i8, i8)>,
    cache: Option<(HourKey, Timestamp)>,
}

type HourKey = (i16, i8, i8, i8, Option<i32>);

impl TimeResolver {
    /// A resolver for headers without offset in `zone`, assuming `assume_year` where a header
    /// has no year and `file_date` where it has no date at all.
    pub fn new(zone: TimeZone, assume_year: i16, file_date: Option<civil::Date>) -> Self {
        let last_date = file_date.map(|d| (d.year(), d.month(), d.day()));
        TimeResolver {
            zone,
            assume_year,
            last_date,
            cache: None,
        }
    }

    /// The UTC instant of `c`, or `None` for an impossible date such as February 30th.
    pub fn resolve(&mut self, c: &Civil) -> Option<Timestamp> {
        let (y, m, d) = match (c.year, c.date) {
            (Some(y), Some((m, d))) => (y, m, d),
            (None, Some((m, d))) => (self.assume_year, m, d),
            (_, None) => self.last_date?,
        };
        self.last_date = Some((y, m, d));
        let key = (y, m, d, c.hour, c.offset);
        let hour_start = match self.cache {
            Some((cached, ts)) if cached == key => ts,
            _ => {
                let ts = self.hour_start(key)?;
                self.cache = Some((key, ts));
                ts
            }
        };
        let within = i64::from(c.minute) * 60 + i64::from(c.second);
        hour_start
            .checked_add(SignedDuration::new(within, c.nanos))
            .ok()
    }

    fn hour_start(&self, (y, m, d, h, offset): HourKey) -> Option<Timestamp> {
        let dt = civil::DateTime::new(y, m, d, h, 0, 0, 0).ok()?;
        let zoned = match offset {
            Some(secs) => dt.to_zoned(TimeZone::fixed(Offset::from_seconds(secs).ok()?)),
            None => dt.to_zoned(self.zone.clone()),
        };
        zoned.ok().map(|z| z.timestamp())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn iso(input: &str, expect: &str) {
        let (_, c) = iso_datetime(input).expect(input);
        let mut r = TimeResolver::new(TimeZone::UTC, 2020, None);
        assert_eq!(r.resolve(&c).unwrap().to_string(), expect, "{input}");
    }

    #[test]
    fn iso_forms() {
        iso("2018-03-05 19:50:11,731 INFO", "2018-03-05T19:50:11.731Z");
        iso("2018-05-17T08:29:12,177][INFO", "2018-05-17T08:29:12.177Z");
        iso("2015-10-20 09:21:14.992 13005", "2015-10-20T09:21:14.992Z");
        iso("2009/11/10 23:00:00 msg", "2009-11-10T23:00:00Z");
        iso("2019-05-16T09:12:45+02:00 x", "2019-05-16T07:12:45Z");
        iso("2026-03-24T00:43:27.642123Z", "2026-03-24T00:43:27.642123Z");
        iso("2020-01-01 00:00:00-0130", "2020-01-01T01:30:00Z");
    }

    #[test]
    fn rejects_non_dates() {
        assert!(iso_datetime("2018-13-05 19:50:11").is_err());
        assert!(iso_datetime("12345-03-05 19:50:11").is_err());
        assert!(iso_datetime("2018-03-05 25:50:11").is_err());
        assert!(time_of_day("3:5:11").is_err());
    }

    #[test]
    fn default_zone_applies_to_headers_without_offset() {
        let zone = TimeZone::get("Europe/Oslo").unwrap();
        let mut r = TimeResolver::new(zone, 2020, None);
        let (_, c) = iso_datetime("2015-08-19 12:00:00,000").unwrap();
        assert_eq!(r.resolve(&c).unwrap().to_string(), "2015-08-19T10:00:00Z");
        let (_, c) = iso_datetime("2015-08-19 12:00:00Z").unwrap();
        assert_eq!(r.resolve(&c).unwrap().to_string(), "2015-08-19T12:00:00Z");
    }

    #[test]
    fn time_only_takes_the_last_date() {
        let date = civil::date(2019, 5, 16);
        let mut r = TimeResolver::new(TimeZone::UTC, 2020, Some(date));
        let (_, (h, mi, s, n)) = time_of_day("09:12:41").unwrap();
        let c = Civil {
            hour: h,
            minute: mi,
            second: s,
            nanos: n,
            ..Civil::default()
        };
        assert_eq!(r.resolve(&c).unwrap().to_string(), "2019-05-16T09:12:41Z");
    }
}
