//! The config file as written (TOML, unknown keys rejected) and the validated settings it
//! becomes. Flags say how the process runs; this file says what the pipeline does.
//!
//! ```toml
//! [input]
//! name_pattern = "{logtype}_{app}_{env}_{imagetag}_{host}_{date}.log"
//! env_codes = ["dev", "nor", "eme", "spe", "mir", "pro"]
//! timezone = "UTC"              # zone of timestamps written without an offset
//! assume_year = 2026            # year of timestamps without one; default: this year
//! max_decoded_bytes = 1099511627776
//!
//! [fold]
//! max_event_lines = 5000
//! max_event_bytes = 1048576
//! event_start = "^### "         # a line this regex matches starts an event, when no header
//!                               # grammar recognises it
//!
//! [grouping]
//! by = "root"                   # root | outermost | chain
//! in_app_include = ["com.acme."]  # when set, only these prefixes are in-app
//! in_app_exclude = ["java.", "org.springframework."]  # replaces the default framework list
//!
//! [[grouping.rules]]            # first priority; see `fold::rules`
//! type = "java.sql.SQLTransientConnectionException"   # globs: exact, `prefix*`, `*part*`
//! fingerprint = ["database-unavailable"]              # or "{{ default }}", "{{ message }}"...
//!
//! # Read by `stackfold run` only:
//! # [input] paths = ["/data/application/logs"]   # files, directories, globs to follow
//!
//! [index]
//! data = "/var/lib/stackfold"   # relative paths are relative to this file's directory
//! heap_mb = 64
//! retention = "30d"             # delete older events, checked hourly
//!
//! [tail]
//! poll_ms = 200                 # check open files this often
//! idle_ms = 500                 # close a quiet file's last event after this
//! commit_interval_ms = 1000     # events are searchable within about this
//! commit_events = 100000
//!
//! [server]
//! listen = "127.0.0.1:7280"
//! basic_auth_file = "users.htpasswd"
//! tls_cert = "cert.pem"
//! tls_key = "key.pem"
//!
//! public_url = "https://stackfold.example.com"   # links in notifications
//!
//! [[alerts]]                    # see `triage::alerts`; read by `tail`, `run`, `serve`
//! name = "new problems in production"
//! when = "new"                  # new | regression | spike | new_in_release
//! env = ["pro"]                 # also app, host, tag, level, query
//! webhook = "https://hooks.example/..."
//! format = "json"               # json | slack
//! # spike: window = "5m", factor = 5, min_count = 20; every rule: throttle = "1h"
//! # or email = ["ops@example.com"], sent through:
//! # [smtp]
//! # host = "smtp.example.com"
//! # port = 587
//! # from = "stackfold <alerts@example.com>"
//! # username = "alerts"
//! # password_file = "smtp.password"
//! # starttls = true
//! # ca = "relay-ca.pem"       # trust this CA instead of the system's
//!
//! # On an edge, instead of [index] and [server]: ship to a central (`stackfold ship`'s flags)
//! # [ship]
//! # to = "https://central:7280"
//! # state = "/var/lib/stackfold-ship"
//! # host_name = "web01"
//! # ca = "ca.pem"
//! # user = "edge"
//! # password_file = "edge.password"
//! # metrics_listen = "127.0.0.1:9280"
//! # batch_events = 50000
//! # batch_mb = 8
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::cli::TailOptions;
use crate::decode::DEFAULT_MAX_DECODED_BYTES;
use crate::error::{Error, Result};
use crate::fold::{
    Analyzer, DEFAULT_JVM_FRAMEWORKS, DEFAULT_MAX_EVENT_BYTES, DEFAULT_MAX_EVENT_LINES,
    FoldSettings, GroupBy, InApp,
};
use crate::pipeline::PipelineSettings;
use crate::source::{DEFAULT_ENV_CODES, DEFAULT_NAME_PATTERN, NamePattern};
use crate::tail::TailSettings;

/// The config file, as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    #[serde(default)]
    pub input: InputConfig,
    #[serde(default)]
    pub fold: FoldConfig,
    #[serde(default)]
    pub grouping: GroupingConfig,
    /// `[patterns]`: masks and pinned templates of one's own (see [`crate::fold::pattern`]).
    #[serde(default)]
    pub patterns: crate::fold::pattern::PatternsConfig,
    /// `[index]`: used by `run`.
    #[serde(default)]
    pub index: IndexConfig,
    /// `[tail]`: used by `run`; the same as `tail`'s flags.
    #[serde(default)]
    pub tail: TailOptions,
    /// `[server]`: used by `run`.
    #[serde(default)]
    pub server: ServerConfig,
    /// `[ship]`: `run` on an edge ships instead of indexing; the same as `ship`'s flags.
    #[serde(default)]
    pub ship: Option<crate::cli::ShipOptions>,
    /// `[[alerts]]`: evaluated by `tail`, `run` and `serve` as events are committed.
    #[serde(default)]
    pub alerts: Vec<crate::triage::rules::AlertRule>,
    /// `[smtp]`: how e-mail notifications are sent.
    #[serde(default)]
    pub smtp: Option<crate::triage::rules::SmtpSettings>,
}

/// `[index]`: where the index lives and how long events stay in it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexConfig {
    /// The data directory (the index is DATA/index). Relative paths in the file are relative
    /// to the file's directory.
    pub data: Option<PathBuf>,
    /// Memory for tantivy's indexing buffers, in MiB.
    pub heap_mb: Option<usize>,
    /// Delete events older than this (`30d`, `12h`), checked hourly.
    pub retention: Option<String>,
}

/// `[server]`: how `run` serves the API and UI.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    pub listen: Option<std::net::SocketAddr>,
    pub basic_auth_file: Option<PathBuf>,
    /// Who may send logs (`--ingest-auth-file`).
    pub ingest_auth_file: Option<PathBuf>,
    /// Syslog listeners, `tcp://IP:PORT` or `udp://IP:PORT` (`--syslog-listen`).
    pub syslog_listen: Option<Vec<String>>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// Where users reach the UI (`https://stackfold.example.com`): the base of the links in
    /// notifications.
    pub public_url: Option<String>,
}

impl TailOptions {
    /// The tailer's settings: these options over the defaults.
    pub fn settings(&self) -> Result<TailSettings> {
        let d = TailSettings::default();
        let ms = |v: Option<u64>, default: Duration, name: &str| match v {
            Some(0) => Err(Error::Config(format!("{name} must be at least 1"))),
            Some(ms) => Ok(Duration::from_millis(ms)),
            None => Ok(default),
        };
        Ok(TailSettings {
            poll: ms(self.poll_ms, d.poll, "poll_ms")?,
            idle: ms(self.idle_ms, d.idle, "idle_ms")?,
            commit_interval: ms(
                self.commit_interval_ms,
                d.commit_interval,
                "commit_interval_ms",
            )?,
            commit_events: self.commit_events.unwrap_or(d.commit_events).max(1),
            ..d
        })
    }
}

/// `[input]`: what files are and what their names mean.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputConfig {
    /// Files, directories and globs to follow (used by `run`).
    pub paths: Option<Vec<String>>,
    pub name_pattern: Option<String>,
    pub env_codes: Option<Vec<String>>,
    pub timezone: Option<String>,
    pub assume_year: Option<i16>,
    pub max_decoded_bytes: Option<u64>,
}

/// `[fold]`: the caps on one event.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FoldConfig {
    pub max_event_lines: Option<u32>,
    pub max_event_bytes: Option<usize>,
    /// A regex: a line it matches, that no header grammar recognises, starts an event (the
    /// fallback for a layout nothing recognises).
    pub event_start: Option<String>,
}

/// `[grouping]`: how exceptions become groups.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupingConfig {
    pub by: Option<GroupBy>,
    pub in_app_include: Option<Vec<String>>,
    pub in_app_exclude: Option<Vec<String>>,
    /// `[[grouping.rules]]`, first priority (see [`crate::fold::rules`]).
    #[serde(default)]
    pub rules: Vec<crate::fold::rules::RuleConfig>,
}

impl ConfigFile {
    /// Reads and parses `path`; an unknown key is an error that names its line.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text).map_err(|source| Error::ConfigSyntax {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Parses config text; the error names the line and the key.
    pub fn parse(text: &str) -> Result<Self, toml::de::Error> {
        toml::from_str(text)
    }

    /// Validates the file into pipeline settings; `timezone` and `threads` come from flags
    /// and win over the file.
    pub fn settings(
        &self,
        timezone: Option<&str>,
        threads: usize,
        this_year: i16,
    ) -> Result<PipelineSettings> {
        let env_codes: Vec<String> = match &self.input.env_codes {
            Some(codes) => codes.clone(),
            None => DEFAULT_ENV_CODES.iter().map(|s| s.to_string()).collect(),
        };
        let pattern = self
            .input
            .name_pattern
            .as_deref()
            .unwrap_or(DEFAULT_NAME_PATTERN);
        let names = NamePattern::new(pattern, &env_codes)?;
        let zone_name = timezone.or(self.input.timezone.as_deref()).unwrap_or("UTC");
        let zone = jiff::tz::TimeZone::get(zone_name).map_err(|source| Error::Time {
            what: format!("timezone {zone_name:?}"),
            source,
        })?;
        let fold = FoldSettings {
            max_event_lines: self.fold.max_event_lines.unwrap_or(DEFAULT_MAX_EVENT_LINES),
            max_event_bytes: self.fold.max_event_bytes.unwrap_or(DEFAULT_MAX_EVENT_BYTES),
        };
        if fold.max_event_lines == 0 || fold.max_event_bytes == 0 {
            return Err(Error::Config("fold caps must be at least 1".into()));
        }
        let exclude = match &self.grouping.in_app_exclude {
            Some(list) => list.clone(),
            None => DEFAULT_JVM_FRAMEWORKS
                .iter()
                .map(|s| s.to_string())
                .collect(),
        };
        let in_app = InApp {
            include: self.grouping.in_app_include.clone().unwrap_or_default(),
            exclude,
        };
        let event_start = match &self.fold.event_start {
            Some(pattern) => Some(std::sync::Arc::new(
                regex::Regex::new(pattern)
                    .map_err(|e| Error::Config(format!("[fold] event_start {pattern:?}: {e}")))?,
            )),
            None => None,
        };
        let GroupingConfig {
            by,
            in_app_include,
            in_app_exclude,
            rules,
        } = &self.grouping;
        let standard = by.is_none()
            && in_app_include.is_none()
            && in_app_exclude.is_none()
            && rules.is_empty()
            && event_start.is_none();
        Ok(PipelineSettings {
            fold,
            event_start,
            analyzer: Analyzer {
                standard,
                in_app,
                group_by: self.grouping.by.unwrap_or_default(),
                rules: crate::fold::rules::Rules::new(&self.grouping.rules)
                    .map_err(Error::Config)?,
                patterns: crate::fold::pattern::PatternRules::new(&self.patterns)
                    .map_err(Error::Config)?,
            },
            names,
            zone,
            assume_year: self.input.assume_year.unwrap_or(this_year),
            max_decoded_bytes: self
                .input
                .max_decoded_bytes
                .unwrap_or(DEFAULT_MAX_DECODED_BYTES),
            threads,
            host: None,
        })
    }
}

impl ConfigFile {
    /// What the alerts of a process need.
    pub fn alert_settings(&self) -> Result<crate::triage::alerts::AlertSettings> {
        let mailing = self
            .alerts
            .iter()
            .find(|r| r.webhook.starts_with("mailto:"));
        if let (Some(rule), None) = (mailing, &self.smtp) {
            return Err(Error::Config(format!(
                "[[alerts]] {:?} sends e-mail: the [smtp] section is missing",
                rule.name
            )));
        }
        if let Some(smtp) = &self.smtp {
            crate::triage::alerts::Mailer::new(smtp).map_err(Error::Config)?;
        }
        Ok(crate::triage::alerts::AlertSettings {
            rules: self.alerts.clone(),
            public_url: self.server.public_url.clone(),
            smtp: self.smtp.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_name_their_line() {
        let err = ConfigFile::parse("[fold]\nmax_event_lines = 10\nmax_lines = 3\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 3"), "{err}");
        assert!(err.contains("max_lines"), "{err}");
    }

    #[test]
    fn settings_from_a_file() {
        let file = ConfigFile::parse(
            "[input]\ntimezone = \"Europe/Oslo\"\nassume_year = 2019\n[grouping]\nby = \"chain\"\nin_app_include = [\"com.acme.\"]\n",
        )
        .unwrap();
        let s = file.settings(None, 2, 2026).unwrap();
        assert_eq!(s.assume_year, 2019);
        assert_eq!(s.analyzer.group_by, GroupBy::Chain);
        assert_eq!(s.analyzer.in_app.include, ["com.acme."]);
        assert!(file.settings(Some("Mars/Olympus"), 2, 2026).is_err());
    }
}
