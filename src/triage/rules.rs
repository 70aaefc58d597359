//! `[[alerts]]` rules as the config file writes them, checked as they are read: a rule with
//! an unknown `when`, a URL that is not `http(s)://host...` or a period that does not parse
//! is refused by the config reader, which names the rule's line.

use std::time::Duration;

use serde::{Deserialize, Deserializer};

use crate::query::Filters;

/// What a rule watches for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum When {
    /// A group first seen after the rule existed.
    New,
    /// A resolved group seen again.
    Regression,
    /// A group's events in `window` over `factor` times their usual rate.
    Spike,
    /// A new group whose first event comes from a release the app had not run before the
    /// rule existed.
    NewInRelease,
}

impl When {
    pub fn as_str(self) -> &'static str {
        match self {
            When::New => "new",
            When::Regression => "regression",
            When::Spike => "spike",
            When::NewInRelease => "new_in_release",
        }
    }
}

/// What a rule watches: exception groups, or the patterns of the events without a trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Of {
    #[default]
    Exceptions,
    Patterns,
}

/// How a notification's body is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// The generic JSON document (`id`, `rule`, `kind`, `group`, `event`, `url`).
    #[default]
    Json,
    /// Slack's incoming-webhook payload (`text`, plus the generic fields).
    Slack,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Slack => "slack",
        }
    }
}

/// One `[[alerts]]` rule.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "RuleFile")]
pub struct AlertRule {
    pub name: String,
    pub when: When,
    /// Exception groups (the default) or patterns.
    pub of: Of,
    pub app: Vec<String>,
    pub env: Vec<String>,
    pub host: Vec<String>,
    pub tag: Vec<String>,
    pub level: Vec<String>,
    /// Only events matching this query (the search syntax).
    pub query: String,
    /// Where notifications go: `http(s)://...` (a webhook) or `mailto:a@x,b@y` (e-mail through
    /// `[smtp]`).
    pub webhook: String,
    pub format: Format,
    /// Spike: the window counted, its factor over the usual rate, and the fewest events.
    pub window: Duration,
    pub factor: f64,
    pub min_count: u64,
    /// At most one notification per group and rule per this.
    pub throttle: Duration,
}

impl AlertRule {
    /// The rule's filters over events.
    pub fn filters(&self) -> Filters {
        Filters {
            app: self.app.clone(),
            env: self.env.clone(),
            host: self.host.clone(),
            tag: self.tag.clone(),
            level: self.level.clone(),
            ..Filters::default()
        }
    }
}

/// The rule as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    name: String,
    when: When,
    #[serde(default)]
    of: Of,
    #[serde(default)]
    app: Vec<String>,
    #[serde(default)]
    env: Vec<String>,
    #[serde(default)]
    host: Vec<String>,
    #[serde(default)]
    tag: Vec<String>,
    #[serde(default)]
    level: Vec<String>,
    #[serde(default)]
    query: String,
    #[serde(default, deserialize_with = "webhook_url")]
    webhook: Option<String>,
    #[serde(default)]
    email: Vec<String>,
    #[serde(default)]
    format: Format,
    #[serde(default, deserialize_with = "period")]
    window: Option<Duration>,
    factor: Option<f64>,
    min_count: Option<u64>,
    #[serde(default, deserialize_with = "period")]
    throttle: Option<Duration>,
}

/// The defaults of a spike rule: five minutes, five times the usual rate, twenty events.
const DEFAULT_WINDOW: Duration = Duration::from_secs(300);
const DEFAULT_FACTOR: f64 = 5.0;
const DEFAULT_MIN_COUNT: u64 = 20;
/// One notification per group and rule per hour.
pub const DEFAULT_THROTTLE: Duration = Duration::from_secs(3600);

impl TryFrom<RuleFile> for AlertRule {
    type Error = String;

    fn try_from(r: RuleFile) -> Result<Self, String> {
        if r.name.trim().is_empty() {
            return Err("an alert rule needs a name".into());
        }
        for address in &r.email {
            if address.parse::<lettre::Address>().is_err() {
                return Err(format!(
                    "alert {:?}: {address:?} is not an e-mail address",
                    r.name
                ));
            }
        }
        let webhook = match (r.webhook, r.email.is_empty()) {
            (Some(url), true) => url,
            (None, false) => format!("mailto:{}", r.email.join(",")),
            (Some(_), false) => {
                return Err(format!(
                    "alert {:?}: webhook or email, not both (write two rules)",
                    r.name
                ));
            }
            (None, true) => {
                return Err(format!(
                    "alert {:?}: webhook = \"https://...\" or email = [\"...\"] is missing",
                    r.name
                ));
            }
        };
        let spike_only = r.window.is_some() || r.factor.is_some() || r.min_count.is_some();
        if spike_only && r.when != When::Spike {
            return Err(format!(
                "alert {:?}: window, factor and min_count go with when = \"spike\"",
                r.name
            ));
        }
        if r.of == Of::Patterns && !matches!(r.when, When::New | When::Spike) {
            return Err(format!(
                "alert {:?}: of = \"patterns\" goes with when = \"new\" or \"spike\" (patterns have no triage status or release)",
                r.name
            ));
        }
        let factor = r.factor.unwrap_or(DEFAULT_FACTOR);
        if !(factor > 0.0 && factor.is_finite()) {
            return Err(format!("alert {:?}: factor must be above 0", r.name));
        }
        let window = r.window.unwrap_or(DEFAULT_WINDOW);
        if window > Duration::from_secs(24 * 3600) {
            return Err(format!("alert {:?}: window must be at most 24h", r.name));
        }
        Ok(AlertRule {
            name: r.name,
            when: r.when,
            of: r.of,
            app: r.app,
            env: r.env,
            host: r.host,
            tag: r.tag,
            level: r.level,
            query: r.query,
            webhook,
            format: r.format,
            window,
            factor,
            min_count: r.min_count.unwrap_or(DEFAULT_MIN_COUNT),
            throttle: r.throttle.unwrap_or(DEFAULT_THROTTLE),
        })
    }
}

fn webhook_url<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let text = String::deserialize(d)?;
    let uri: ureq::http::Uri = text
        .parse()
        .map_err(|e| serde::de::Error::custom(format!("webhook {text:?}: {e}")))?;
    let http = matches!(uri.scheme_str(), Some("http" | "https"));
    if !http || uri.host().is_none_or(str::is_empty) {
        return Err(serde::de::Error::custom(format!(
            "webhook {text:?}: not an http:// or https:// URL"
        )));
    }
    Ok(Some(text))
}

fn period<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    let text = String::deserialize(d)?;
    let span = crate::query::time::parse_duration(&text)
        .ok()
        .and_then(|d| Duration::try_from(d).ok())
        .filter(|d| !d.is_zero())
        .ok_or_else(|| {
            serde::de::Error::custom(format!("{text:?}: not a period (such as 5m, 1h, 7d)"))
        })?;
    Ok(Some(span))
}

/// `[smtp]`: how e-mail notifications are sent.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSettings {
    pub host: String,
    /// 587 by default (submission with STARTTLS).
    #[serde(default = "submission_port")]
    pub port: u16,
    /// The sender, `stackfold <alerts@example.com>`.
    pub from: String,
    pub username: Option<String>,
    /// A file holding the password (its first line).
    pub password_file: Option<std::path::PathBuf>,
    /// Upgrade the connection with STARTTLS, and refuse to send without it (true by default;
    /// false only for a relay on the same host).
    #[serde(default = "yes")]
    pub starttls: bool,
    /// A PEM certificate authority to trust instead of the system's (a private relay).
    pub ca: Option<std::path::PathBuf>,
}

fn submission_port() -> u16 {
    587
}

fn yes() -> bool {
    true
}
