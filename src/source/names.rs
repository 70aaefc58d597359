//! Metadata from file names: `{logtype}_{app}_{env}_{imagetag}_{host}_{date}.log`
//! (docs/grouping.md §6), with the pattern configurable.

use jiff::Timestamp;
use jiff::civil;
use jiff::tz::TimeZone;
use regex::Regex;

use crate::error::{Error, Result};
use std::path::Path;

use crate::event::{FileInfo, FileMeta};

/// The operators' convention, for application logs and (with an hourly date) tracing logs.
pub const DEFAULT_NAME_PATTERN: &str = "{logtype}_{app}_{env}_{imagetag}_{host}_{date}.log";

/// Environment codes: the first three letters of development, normal, emergency, special,
/// mirror and production.
pub const DEFAULT_ENV_CODES: &[&str] = &["dev", "nor", "eme", "spe", "mir", "pro"];

/// A compiled file-name pattern.
#[derive(Debug, Clone)]
pub struct NamePattern {
    regex: Regex,
    env_codes: Vec<String>,
}

const FIELDS: &[&str] = &["logtype", "app", "env", "imagetag", "tag", "host", "date"];

impl NamePattern {
    /// Compiles `pattern`, whose `{field}`s are among `logtype`, `app`, `env`, `imagetag` (or
    /// `tag`), `host` and `date` (`yyyyMMdd` or `yyyyMMddHH`); the rest is literal. A name may
    /// carry rotation and compression suffixes after the pattern (`.1`, `.gz`,
    /// `.2015-08-19.gz`). Names whose env is not one of `env_codes` do not match.
    pub fn new(pattern: &str, env_codes: &[String]) -> Result<Self> {
        let mut regex = String::from("^");
        let mut rest = pattern;
        while let Some(open) = rest.find('{') {
            regex.push_str(&regex::escape(&rest[..open]));
            let close = rest[open..].find('}').ok_or_else(|| {
                Error::Config(format!("file name pattern {pattern:?}: unclosed {{"))
            })?;
            let field = &rest[open + 1..open + close];
            if !FIELDS.contains(&field) {
                let known = FIELDS.join(", ");
                return Err(Error::Config(format!(
                    "file name pattern {pattern:?}: unknown field {{{field}}} (known: {known})"
                )));
            }
            let group = if field == "date" {
                r"\d{8}(?:\d{2})?"
            } else {
                r"[^_/]+?"
            };
            let name = if field == "imagetag" { "tag" } else { field };
            regex.push_str(&format!("(?P<{name}>{group})"));
            rest = &rest[open + close + 1..];
        }
        regex.push_str(&regex::escape(rest));
        regex.push_str(r"(?:\.[^/]*)?$");
        let regex = Regex::new(&regex).map_err(|source| Error::NamePattern {
            pattern: pattern.to_owned(),
            source,
        })?;
        Ok(NamePattern {
            regex,
            env_codes: env_codes.to_vec(),
        })
    }

    /// The metadata of a file name (the last component of a path); empty if it does not follow
    /// the pattern.
    pub fn meta(&self, file_name: &str) -> FileMeta {
        let Some(caps) = self.regex.captures(file_name) else {
            return FileMeta::default();
        };
        let get = |name: &str| caps.name(name).map(|m| m.as_str().to_owned());
        if let Some(env) = caps.name("env")
            && !self.env_codes.iter().any(|code| code == env.as_str())
        {
            return FileMeta::default();
        }
        let date = caps.name("date").and_then(|d| format_date(d.as_str()));
        if caps.name("date").is_some() && date.is_none() {
            return FileMeta::default();
        }
        FileMeta {
            logtype: get("logtype"),
            app: get("app"),
            env: get("env"),
            tag: get("tag"),
            host: get("host"),
            date,
        }
    }
}

/// `20150819` → `2015-08-19`, `2015081913` → `2015-08-19T13`; `None` for an impossible date.
fn format_date(digits: &str) -> Option<String> {
    let num = |r: std::ops::Range<usize>| digits.get(r)?.parse::<i16>().ok();
    let (y, m, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    civil::Date::new(y, m as i8, d as i8).ok()?;
    let date = format!("{y:04}-{m:02}-{d:02}");
    match num(8..10) {
        Some(h) if h < 24 => Some(format!("{date}T{h:02}")),
        Some(_) => None,
        None => Some(date),
    }
}

/// The instant a file-name date stands for, in `zone`.
pub fn date_timestamp(date: &str, zone: &TimeZone) -> Option<Timestamp> {
    let (day, hour) = match date.split_once('T') {
        Some((day, hour)) => (day, hour.parse::<i8>().ok()?),
        None => (date, 0),
    };
    let day: civil::Date = day.parse().ok()?;
    day.at(hour, 0, 0, 0)
        .to_zoned(zone.clone())
        .ok()
        .map(|z| z.timestamp())
}

/// The metadata of the file at `path` from its name, its date read in `zone`.
pub fn file_info(path: &Path, names: &NamePattern, zone: &TimeZone) -> FileInfo {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let meta = names.meta(&name);
    let date_ts = meta.date.as_deref().and_then(|d| date_timestamp(d, zone));
    FileInfo {
        path: path.to_path_buf(),
        meta,
        date_ts,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn default_pattern() -> NamePattern {
        let codes: Vec<String> = DEFAULT_ENV_CODES.iter().map(|s| s.to_string()).collect();
        NamePattern::new(DEFAULT_NAME_PATTERN, &codes).unwrap()
    }

    #[track_caller]
    fn meta(name: &str) -> Vec<Option<String>> {
        let m = default_pattern().meta(name);
        vec![m.logtype, m.app, m.env, m.tag, m.host, m.date]
    }

    fn some(values: &[&str]) -> Vec<Option<String>> {
        values.iter().map(|s| Some(s.to_string())).collect()
    }

    #[test]
    fn the_convention_and_its_rotated_copies() {
        let want = some(&["weberror", "aether", "nor", "8", "778283", "2015-08-19"]);
        for name in [
            "weberror_aether_nor_8_778283_20150819.log",
            "weberror_aether_nor_8_778283_20150819.log.1",
            "weberror_aether_nor_8_778283_20150819.log.gz",
            "weberror_aether_nor_8_778283_20150819.log.zst",
            "weberror_aether_nor_8_778283_20150819.log.2015-08-19.gz",
        ] {
            assert_eq!(meta(name), want, "{name}");
        }
        assert_eq!(
            meta("tracing_aether_pro_1.4.2_web-01_2015081913.log"),
            some(&[
                "tracing",
                "aether",
                "pro",
                "1.4.2",
                "web-01",
                "2015-08-19T13"
            ])
        );
    }

    #[test]
    fn names_off_the_convention_have_no_metadata() {
        let empty = vec![None; 6];
        assert_eq!(meta("catalina.out"), empty);
        assert_eq!(
            meta("weberror_aether_xyz_8_778283_20150819.log"),
            empty,
            "unknown env"
        );
        assert_eq!(
            meta("weberror_aether_nor_8_778283_20151319.log"),
            empty,
            "month 13"
        );
        assert_eq!(meta("weberror_aether_nor_8_778283.log"), empty, "no date");
    }

    #[test]
    fn custom_patterns() {
        let codes = vec!["prod".to_string()];
        let p = NamePattern::new("{app}-{env}-{date}.txt", &codes).unwrap();
        let m = p.meta("billing-prod-20240301.txt.gz");
        assert_eq!(m.app.as_deref(), Some("billing"));
        assert_eq!(m.date.as_deref(), Some("2024-03-01"));
        assert!(NamePattern::new("{app}_{colour}.log", &codes).is_err());
        assert!(NamePattern::new("{app.log", &codes).is_err());
    }

    #[test]
    fn date_timestamps() {
        let utc = TimeZone::UTC;
        assert_eq!(
            date_timestamp("2015-08-19", &utc).unwrap().to_string(),
            "2015-08-19T00:00:00Z"
        );
        assert_eq!(
            date_timestamp("2015-08-19T13", &utc).unwrap().to_string(),
            "2015-08-19T13:00:00Z"
        );
    }
}
