//! Times as people type them: RFC 3339, a date, `now`, or relative (`-1h`, `now-7d`).

use jiff::{SignedDuration, Timestamp};

/// Why a time or duration does not parse; the message quotes what was typed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TimeError {
    #[error("{0:?}: expected a number and a unit, like 30m or 7d")]
    NoNumber(String),
    #[error("{text:?}: unknown unit {unit:?} (use s, m, h, d or w)")]
    Unit { text: String, unit: String },
    #[error("{text:?}: out of range")]
    Range {
        text: String,
        #[source]
        source: jiff::Error,
    },
    #[error("{0:?}: not a time (use RFC 3339, YYYY-MM-DD, now, or -1h / -7d)")]
    NotATime(String),
    #[error("{0:?}: too long")]
    TooLong(String),
}

/// A duration like `30s`, `15m`, `1h`, `7d`, `2w` (days are 24 hours).
pub fn parse_duration(text: &str) -> Result<SignedDuration, TimeError> {
    let text = text.trim();
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let (number, unit) = text.split_at(digits);
    let n: i64 = number
        .parse()
        .map_err(|_| TimeError::NoNumber(text.to_owned()))?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => {
            return Err(TimeError::Unit {
                text: text.to_owned(),
                unit: unit.to_owned(),
            });
        }
    };
    let secs = n
        .checked_mul(seconds)
        .ok_or_else(|| TimeError::TooLong(text.to_owned()))?;
    Ok(SignedDuration::from_secs(secs))
}

/// A point in time: RFC 3339 (`2024-03-01T10:00:00Z`), a date (`2024-03-01`, midnight UTC),
/// `now`, or relative to `now` (`-1h`, `now-7d`).
pub fn parse_time(text: &str, now: Timestamp) -> Result<Timestamp, TimeError> {
    let text = text.trim();
    if text == "now" {
        return Ok(now);
    }
    if let Some(ago) = text.strip_prefix("now-").or_else(|| text.strip_prefix('-')) {
        let d = parse_duration(ago)?;
        return now.checked_sub(d).map_err(|source| TimeError::Range {
            text: text.to_owned(),
            source,
        });
    }
    if let Ok(ts) = text.parse::<Timestamp>() {
        return Ok(ts);
    }
    if let Ok(date) = text.parse::<jiff::civil::Date>() {
        return date
            .to_zoned(jiff::tz::TimeZone::UTC)
            .map(|z| z.timestamp())
            .map_err(|source| TimeError::Range {
                text: text.to_owned(),
                source,
            });
    }
    Err(TimeError::NotATime(text.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let now: Timestamp = "2024-03-08T12:00:00Z".parse().unwrap();
        let t = |s: &str| parse_time(s, now).map(|t| t.to_string());
        assert_eq!(t("-1h").unwrap(), "2024-03-08T11:00:00Z");
        assert_eq!(t("now-7d").unwrap(), "2024-03-01T12:00:00Z");
        assert_eq!(t("2024-03-01").unwrap(), "2024-03-01T00:00:00Z");
        assert_eq!(
            t("2024-03-01T10:00:00+01:00").unwrap(),
            "2024-03-01T09:00:00Z"
        );
        assert_eq!(t("now").unwrap(), "2024-03-08T12:00:00Z");
        assert!(t("yesterday").is_err());
        assert!(t("-3y").is_err());
        assert_eq!(
            parse_duration("30d").unwrap(),
            SignedDuration::from_hours(720)
        );
    }
}
