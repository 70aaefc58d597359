//! Alerts: `[[alerts]]` rules evaluated over what was committed, notifications through a
//! durable outbox.
//!
//! In: the index as committed (by `tail`, `run`, `serve` taking logs, `index`), read from the
//! last batch evaluated (the watermark) to the newest. Out: notifications in the outbox of the
//! triage database, each with a stable id, inserted together with the new watermark in one
//! transaction; then delivered by POST, retried with backoff until a 2xx, which is recorded.
//!
//! Durable: a kill before that transaction leaves the watermark where it was, and the same
//! batches are evaluated again into the same ids (inserted once); a kill after it leaves the
//! notifications in the outbox for the next process. A notification whose 2xx was recorded is
//! never sent again; one whose 2xx was not recorded (a kill in between) is sent again with the
//! same id, so receivers can drop the duplicate.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use rusqlite::{OptionalExtension, params};
use serde::Serialize;
use xxhash_rust::xxh3::xxh3_128;

use super::rules::{AlertRule, Format, Of, SmtpSettings, When};
use super::{Record, Status, Store, annotate, status_of};
use crate::error::Result;
use crate::query::{
    Filters, GroupSort, GroupSummary, PatternSummary, QueryError, Reader, StoredEvent,
};

/// What the alerts of a process need: the rules and where the group pages are.
#[derive(Debug, Clone, Default)]
pub struct AlertSettings {
    pub rules: Vec<AlertRule>,
    /// `[server] public_url`: the base of the links in notifications.
    pub public_url: Option<String>,
    /// `[smtp]`: for rules that send e-mail.
    pub smtp: Option<SmtpSettings>,
}

/// A notification as sent: the generic JSON webhook's document. It has a `group` (an
/// exception group, as `/api/exceptions` lists it) or, for a rule of patterns, a `pattern`
/// (as `/api/patterns` lists it).
#[derive(Debug, Clone, Serialize)]
pub struct Notification {
    pub id: String,
    pub rule: String,
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<GroupSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pattern: Option<PatternSummary>,
    pub event: Option<StoredEvent>,
    pub url: Option<String>,
}

impl Notification {
    /// The fingerprint or pattern id the notification is about.
    fn subject(&self) -> &str {
        match (&self.group, &self.pattern) {
            (Some(group), _) => &group.fingerprint,
            (None, Some(pattern)) => &pattern.id,
            (None, None) => "",
        }
    }
}

/// Why an evaluation failed: the index or the database.
#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    #[error(transparent)]
    Query(#[from] QueryError),
    #[error(transparent)]
    Store(#[from] crate::error::Error),
}

impl From<rusqlite::Error> for AlertError {
    fn from(err: rusqlite::Error) -> Self {
        AlertError::Store(err.into())
    }
}

/// Evaluates `settings`' rules over the batches committed since the last evaluation, and
/// puts the notifications they make in the outbox; returns how many. The first evaluation
/// of a data directory only sets the watermark: what was indexed before alerts existed
/// notifies nobody.
pub fn evaluate(
    reader: &Reader,
    store: &Store,
    settings: &AlertSettings,
    now: Timestamp,
) -> std::result::Result<usize, AlertError> {
    if settings.rules.is_empty() {
        return Ok(0);
    }
    let upto = reader.last_ingested()?;
    let created = rule_times(store, &settings.rules, now)?;
    let Some(after) = watermark(store)? else {
        enqueue(store, &[], upto, now)?;
        return Ok(0);
    };
    if upto <= after {
        return Ok(0);
    }
    let records = store.records()?;
    let fresh = Filters {
        ingested: Some((after, upto)),
        ..Filters::default()
    };
    let mut made = Vec::new();
    for rule in &settings.rules {
        let in_range = Filters {
            ingested: fresh.ingested,
            ..rule.filters()
        };
        let created = created[&rule.name];
        if rule.of == Of::Patterns {
            for (id, key) in pattern_decisions(reader, rule, &in_range, created, now)? {
                let note = notification_id(&rule.name, rule.when, &key);
                made.push(pattern_notification(reader, settings, rule, note, &id)?);
            }
            continue;
        }
        let touched: Vec<String> = reader
            .groups(&rule.query, &in_range)?
            .into_iter()
            .map(|g| g.fingerprint)
            .collect();
        if touched.is_empty() {
            continue;
        }
        // Each decision: the group, and what makes its notification one of a kind.
        let decided: Vec<(String, String)> = match rule.when {
            When::New => new_groups(reader, rule, &touched, created)?
                .into_iter()
                .map(|g| (g.fingerprint.clone(), g.fingerprint))
                .collect(),
            When::NewInRelease => {
                let mut out = Vec::new();
                for group in new_groups(reader, rule, &touched, created)? {
                    if in_new_release(reader, &group, created)? {
                        out.push((group.fingerprint.clone(), group.fingerprint));
                    }
                }
                out
            }
            When::Regression => {
                let mut out = Vec::new();
                for record in touched.iter().filter_map(|fp| records.get(fp)) {
                    if let Some(at) = regressed(reader, record, now)? {
                        let key = format!("{}:{}", record.fingerprint, at.as_millisecond());
                        out.push((record.fingerprint.clone(), key));
                    }
                }
                out
            }
            When::Spike => spiking(rule, now, |from, to| {
                let filters = Filters {
                    fingerprint: touched.clone(),
                    from: Some(from),
                    to: Some(to),
                    ..rule.filters()
                };
                Ok(reader
                    .groups(&rule.query, &filters)?
                    .into_iter()
                    .map(|g| (g.fingerprint, g.count))
                    .collect())
            })?,
        };
        for (fp, key) in decided {
            let id = notification_id(&rule.name, rule.when, &key);
            made.push(notification(reader, store, settings, rule, id, &fp)?);
        }
    }
    let count = made.len();
    enqueue(store, &made, upto, now)?;
    Ok(count)
}

/// The patterns a rule of patterns notifies about, among those with events in `in_range`
/// (the batches since the last evaluation), each with what makes its notification one of a
/// kind: new ones (first seen after the rule existed), or those over their usual rate.
fn pattern_decisions(
    reader: &Reader,
    rule: &AlertRule,
    in_range: &Filters,
    created: Timestamp,
    now: Timestamp,
) -> std::result::Result<Vec<(String, String)>, QueryError> {
    let counts = |filters: &Filters| -> std::result::Result<Vec<PatternSummary>, QueryError> {
        Ok(reader
            .pattern_list(&rule.query, filters, GroupSort::Count, usize::MAX, 0)?
            .patterns)
    };
    let touched: Vec<String> = counts(in_range)?.into_iter().map(|p| p.id).collect();
    if touched.is_empty() {
        return Ok(Vec::new());
    }
    let of_touched = |from, to| Filters {
        pattern: touched.clone(),
        from,
        to,
        ..rule.filters()
    };
    Ok(match rule.when {
        When::Spike => spiking(rule, now, |from, to| {
            Ok(counts(&of_touched(Some(from), Some(to)))?
                .into_iter()
                .map(|p| (p.id, p.count))
                .collect())
        })?,
        _ => counts(&of_touched(None, None))?
            .into_iter()
            .filter(|p| p.first_seen.is_some_and(|t| t >= created))
            .map(|p| (p.id.clone(), p.id))
            .collect(),
    })
}

/// The notification of rule `rule` about pattern `id`.
fn pattern_notification(
    reader: &Reader,
    settings: &AlertSettings,
    rule: &AlertRule,
    id: String,
    pattern: &str,
) -> std::result::Result<Queued, AlertError> {
    let Some(detail) = reader.pattern(pattern, &rule.filters(), 1)? else {
        return Err(QueryError::BadParameter(format!("pattern {pattern} vanished")).into());
    };
    let url = settings.public_url.as_ref().map(|base| {
        format!(
            "{}/#/pattern/{pattern}?severity=all",
            base.trim_end_matches('/')
        )
    });
    let note = Notification {
        id,
        rule: rule.name.clone(),
        kind: rule.when.as_str(),
        group: None,
        pattern: Some(detail.summary),
        event: detail.samples.into_iter().next(),
        url,
    };
    Ok(queued(note, rule))
}

/// Of the groups `fps`, those first seen (by their events' time) after the rule existed:
/// one query for all of them.
fn new_groups(
    reader: &Reader,
    rule: &AlertRule,
    fps: &[String],
    created: Timestamp,
) -> std::result::Result<Vec<GroupSummary>, QueryError> {
    let all = Filters {
        fingerprint: fps.to_vec(),
        ..rule.filters()
    };
    let mut groups = reader.groups(&rule.query, &all)?;
    groups.retain(|g| {
        let first = g.first_seen.as_deref().and_then(|t| t.parse().ok());
        first.is_some_and(|t: Timestamp| t >= created)
    });
    Ok(groups)
}

/// The new `group`'s first event comes from a release its app had no events of before the
/// rule existed.
fn in_new_release(
    reader: &Reader,
    group: &GroupSummary,
    created: Timestamp,
) -> std::result::Result<bool, QueryError> {
    let (Some(tag), Some(app)) = (&group.first_tag, group.apps.first()) else {
        return Ok(false);
    };
    let before = Filters {
        app: vec![app.value.clone()],
        tag: vec![tag.clone()],
        to: Some(created),
        ..Filters::default()
    };
    Ok(reader.count("", &before)? == 0)
}

/// Whether a resolved group came back: the time of the resolve it came back from (one
/// regression per resolve), if it did.
fn regressed(
    reader: &Reader,
    record: &Record,
    now: Timestamp,
) -> std::result::Result<Option<Timestamp>, QueryError> {
    if record.status != Status::Resolved {
        return Ok(None);
    }
    let triaged = status_of(reader, record, now)?;
    Ok(triaged.regressed_at.is_some().then_some(record.at))
}

/// Of the groups or patterns `counts` counts between two times, those whose events of the
/// rule's last `window` are over `factor` times the window's average over the 24 hours
/// before, and at least `min_count` (two counts for all), each with its occasion: the window
/// of `now`, so one spike notifies once.
fn spiking(
    rule: &AlertRule,
    now: Timestamp,
    counts: impl Fn(Timestamp, Timestamp) -> std::result::Result<HashMap<String, u64>, QueryError>,
) -> std::result::Result<Vec<(String, String)>, QueryError> {
    let window = SignedDuration::try_from(rule.window).unwrap_or(SignedDuration::from_mins(5));
    let day = SignedDuration::from_hours(24);
    let start = now - window;
    let recent = counts(start, now + SignedDuration::from_secs(1))?;
    let before = counts(start - day, start)?;
    let windows = day.as_secs_f64() / window.as_secs_f64();
    let bucket = now.as_millisecond() / rule.window.as_millis().max(1) as i64;
    Ok(recent
        .into_iter()
        .filter(|(key, n)| {
            let usual = before.get(key).copied().unwrap_or(0) as f64 / windows;
            *n >= rule.min_count && *n as f64 > rule.factor * usual
        })
        .map(|(key, _)| {
            let occasion = format!("{key}:{bucket}");
            (key, occasion)
        })
        .collect())
}

/// A notification's stable id: the same rule, kind and occasion give the same id in every
/// process and after every restart.
fn notification_id(rule: &str, when: When, key: &str) -> String {
    let text = format!("{rule}\n{}\n{key}", when.as_str());
    format!("{:032x}", xxh3_128(text.as_bytes()))
}

fn notification(
    reader: &Reader,
    store: &Store,
    settings: &AlertSettings,
    rule: &AlertRule,
    id: String,
    fp: &str,
) -> std::result::Result<Queued, AlertError> {
    let detail = reader.group(fp, &Filters::default(), 1)?;
    let (mut group, event) = match detail {
        Some(d) => (d.summary, d.latest),
        None => return Err(QueryError::BadParameter(format!("group {fp} vanished")).into()),
    };
    if let Some(record) = store.record(fp)? {
        annotate(&mut group, &status_of(reader, &record, Timestamp::now())?);
    }
    let url = settings
        .public_url
        .as_ref()
        .map(|base| format!("{}/#/group/{fp}", base.trim_end_matches('/')));
    let note = Notification {
        id,
        rule: rule.name.clone(),
        kind: rule.when.as_str(),
        group: Some(group),
        pattern: None,
        event,
        url,
    };
    Ok(queued(note, rule))
}

fn queued(note: Notification, rule: &AlertRule) -> Queued {
    Queued {
        payload: body(&note, rule.format),
        note,
        target: rule.webhook.clone(),
        format: rule.format,
        throttle: rule.throttle,
    }
}

/// The body POSTed for `note` in `format`.
fn body(note: &Notification, format: Format) -> String {
    let mut value = serde_json::to_value(note).expect("notifications serialise");
    if format == Format::Slack {
        let what = what(note.kind, note.pattern.is_some());
        let link = note
            .url
            .as_ref()
            .map(|u| format!(" <{u}|open>"))
            .unwrap_or_default();
        let (name, template, count) = match (&note.group, &note.pattern) {
            (Some(g), _) => (g.root_type.as_str(), g.template.as_str(), g.count),
            (None, Some(p)) => ("pattern", p.template.as_str(), p.count),
            (None, None) => ("", "", 0),
        };
        let text = format!(
            "*{what}* ({}): `{name}` {template} — {count} events{link}",
            note.rule
        );
        value["text"] = serde_json::Value::String(text);
    }
    value.to_string()
}

/// What a notification of `kind` says it is about.
fn what(kind: &str, pattern: bool) -> &'static str {
    match (kind, pattern) {
        ("new", false) => "New problem",
        ("new", true) => "New pattern",
        ("regression", _) => "Regression",
        ("spike", false) => "Spike",
        ("spike", true) => "Pattern spike",
        _ => "New in release",
    }
}

/// A notification ready for the outbox.
struct Queued {
    note: Notification,
    payload: String,
    target: String,
    format: Format,
    throttle: Duration,
}

/// When each rule was first seen by this data directory (recorded now for new ones).
fn rule_times(
    store: &Store,
    rules: &[AlertRule],
    now: Timestamp,
) -> std::result::Result<HashMap<String, Timestamp>, AlertError> {
    let conn = store.conn.lock().unwrap_or_else(|e| e.into_inner());
    let mut out = HashMap::new();
    for rule in rules {
        conn.execute(
            "INSERT OR IGNORE INTO alert_rule (name, created_ms) VALUES (?1, ?2)",
            params![rule.name, now.as_millisecond()],
        )?;
        let ms: i64 = conn.query_row(
            "SELECT created_ms FROM alert_rule WHERE name = ?1",
            [&rule.name],
            |r| r.get(0),
        )?;
        out.insert(
            rule.name.clone(),
            Timestamp::from_millisecond(ms).unwrap_or(now),
        );
    }
    Ok(out)
}

fn watermark(store: &Store) -> std::result::Result<Option<u64>, AlertError> {
    let conn = store.conn.lock().unwrap_or_else(|e| e.into_inner());
    let batch: Option<i64> = conn
        .query_row("SELECT batch FROM alert_watermark WHERE one = 1", [], |r| {
            r.get(0)
        })
        .optional()?;
    Ok(batch.map(|b| b.max(0) as u64))
}

/// Inserts `made` (each once, and none for a group and rule notified within its throttle)
/// and moves the watermark to `upto`, in one transaction.
fn enqueue(
    store: &Store,
    made: &[Queued],
    upto: u64,
    now: Timestamp,
) -> std::result::Result<(), AlertError> {
    let mut conn = store.conn.lock().unwrap_or_else(|e| e.into_inner());
    let tx = conn.transaction()?;
    let now_ms = now.as_millisecond();
    for q in made {
        let throttled_since = now_ms - q.throttle.as_millis() as i64;
        let recent: i64 = tx.query_row(
            "SELECT count(*) FROM notification WHERE rule = ?1 AND fingerprint = ?2 AND created_ms > ?3",
            params![q.note.rule, q.note.subject(), throttled_since],
            |r| r.get(0),
        )?;
        if recent > 0 {
            continue;
        }
        tx.execute(
            "INSERT OR IGNORE INTO notification
                 (id, rule, kind, fingerprint, target, format, payload, created_ms, due_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
            params![
                q.note.id,
                q.note.rule,
                q.note.kind,
                q.note.subject(),
                q.target,
                q.format.as_str(),
                q.payload,
                now_ms
            ],
        )?;
    }
    tx.execute(
        "INSERT INTO alert_watermark (one, batch) VALUES (1, ?1)
         ON CONFLICT (one) DO UPDATE SET batch = max(batch, ?1)",
        [upto as i64],
    )?;
    tx.commit()?;
    Ok(())
}

/// A notification in the outbox, as `GET /api/alerts` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutboxEntry {
    pub id: String,
    pub rule: String,
    pub kind: String,
    pub fingerprint: String,
    /// `pending` (not yet confirmed; retried), `sent` (confirmed with a 2xx) or `failed`
    /// (given up after [`GIVE_UP_AFTER`]).
    pub state: String,
    pub created: Timestamp,
    pub sent: Option<Timestamp>,
    pub attempts: u64,
    pub last_error: Option<String>,
}

/// How long delivery is retried before a notification is marked failed.
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(24 * 3600);
/// Retries wait 1 s, 2 s, 4 s... up to this.
const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// The longest a webhook request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one process holds a notification it is sending: past the request's timeout, so
/// a live sender is never doubled, and short, since a sender killed mid-send holds it until
/// then (with 60 s, a kill left three notifications waiting a minute in the SIGKILL test).
const CLAIM: Duration = Duration::from_secs(15);

/// The newest `limit` notifications of the outbox.
pub fn outbox(store: &Store, limit: usize) -> Result<Vec<OutboxEntry>> {
    let conn = store.conn.lock().unwrap_or_else(|e| e.into_inner());
    let mut statement = conn.prepare(
        "SELECT id, rule, kind, fingerprint, created_ms, sent_ms, attempts, last_error, failed
         FROM notification ORDER BY created_ms DESC, id LIMIT ?1",
    )?;
    let millis = |ms: i64| Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH);
    let rows = statement.query_map([limit as i64], |r| {
        let sent: Option<i64> = r.get(5)?;
        let failed: i64 = r.get(8)?;
        let state = match (sent, failed) {
            (Some(_), _) => "sent",
            (None, 0) => "pending",
            (None, _) => "failed",
        };
        Ok(OutboxEntry {
            id: r.get(0)?,
            rule: r.get(1)?,
            kind: r.get(2)?,
            fingerprint: r.get(3)?,
            state: state.to_owned(),
            created: millis(r.get(4)?),
            sent: sent.map(millis),
            attempts: r.get::<_, i64>(6)?.max(0) as u64,
            last_error: r.get(7)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Sends the notifications that are due, each claimed first so that two processes over one
/// data directory do not both send it; returns how many were confirmed.
pub fn deliver_due(
    store: &Store,
    agent: &ureq::Agent,
    mailer: Option<&Mailer>,
    now: Timestamp,
) -> Result<usize> {
    let due = claim_due(store, now)?;
    let mut confirmed = 0;
    for (id, target, payload, attempts, created_ms) in due {
        let outcome = match target.strip_prefix("mailto:") {
            Some(to) => match mailer {
                Some(mailer) => mailer.send(&id, to, &payload),
                None => Err("no [smtp] section to send e-mail with".to_owned()),
            },
            None => post(agent, &target, &id, &payload),
        };
        let conn = store.conn.lock().unwrap_or_else(|e| e.into_inner());
        let now_ms = Timestamp::now().as_millisecond();
        match outcome {
            Ok(()) => {
                conn.execute(
                    "UPDATE notification SET sent_ms = ?2, attempts = attempts + 1, last_error = NULL
                     WHERE id = ?1",
                    params![id, now_ms],
                )?;
                confirmed += 1;
            }
            Err(error) => {
                let backoff = Duration::from_secs(1u64 << attempts.min(16)).min(MAX_BACKOFF);
                let give_up = now_ms - created_ms > GIVE_UP_AFTER.as_millis() as i64;
                tracing::warn!(%id, %target, %error, "notification not delivered");
                conn.execute(
                    "UPDATE notification SET attempts = attempts + 1, last_error = ?2,
                         due_ms = ?3, claimed_until_ms = 0, failed = ?4 WHERE id = ?1",
                    params![
                        id,
                        error,
                        now_ms + backoff.as_millis() as i64,
                        i64::from(give_up)
                    ],
                )?;
            }
        }
    }
    Ok(confirmed)
}

/// POSTs a notification; a 2xx confirms it.
fn post(
    agent: &ureq::Agent,
    target: &str,
    id: &str,
    payload: &str,
) -> std::result::Result<(), String> {
    let answer = agent
        .post(target)
        .header("Content-Type", "application/json")
        .header("X-Stackfold-Notification", id)
        .send(payload);
    match answer {
        Ok(response) if response.status().is_success() => Ok(()),
        Ok(response) => Err(format!("HTTP {}", response.status())),
        Err(err) => Err(err.to_string()),
    }
}

/// Sends e-mail notifications through `[smtp]`.
pub struct Mailer {
    transport: lettre::SmtpTransport,
    from: lettre::message::Mailbox,
}

impl Mailer {
    /// The mailer of `smtp`; the error says what is wrong with the section.
    pub fn new(smtp: &SmtpSettings) -> std::result::Result<Mailer, String> {
        use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls, TlsParameters};
        let from = smtp
            .from
            .parse()
            .map_err(|e| format!("[smtp] from {:?}: {e}", smtp.from))?;
        let mut builder = lettre::SmtpTransport::builder_dangerous(smtp.host.as_str())
            .port(smtp.port)
            .timeout(Some(REQUEST_TIMEOUT));
        if smtp.starttls {
            let mut tls = TlsParameters::builder(smtp.host.clone());
            if let Some(ca) = &smtp.ca {
                let pem =
                    std::fs::read(ca).map_err(|e| format!("[smtp] ca {}: {e}", ca.display()))?;
                let cert = Certificate::from_pem(&pem)
                    .map_err(|e| format!("[smtp] ca {}: {e}", ca.display()))?;
                tls = tls
                    .certificate_store(CertificateStore::None)
                    .add_root_certificate(cert);
            }
            let tls = tls.build_rustls().map_err(|e| format!("[smtp]: {e}"))?;
            builder = builder.tls(Tls::Required(tls));
        }
        if let Some(user) = &smtp.username {
            let password = match &smtp.password_file {
                Some(path) => std::fs::read_to_string(path)
                    .map_err(|e| format!("[smtp] password_file {}: {e}", path.display()))?
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .to_owned(),
                None => String::new(),
            };
            builder = builder.credentials((user.clone(), password).into());
        }
        Ok(Mailer {
            transport: builder.build(),
            from,
        })
    }

    /// Sends the notification `payload` (its JSON) to `to` (comma-separated), with its id as
    /// the Message-ID, so mail clients and archives see a resend as the same message.
    fn send(&self, id: &str, to: &str, payload: &str) -> std::result::Result<(), String> {
        use lettre::Transport;
        let note: serde_json::Value =
            serde_json::from_str(payload).map_err(|e| format!("payload: {e}"))?;
        let text = |v: &serde_json::Value| v.as_str().unwrap_or("").to_owned();
        let pattern = note["pattern"].is_object();
        let group = if pattern {
            &note["pattern"]
        } else {
            &note["group"]
        };
        let what = what(note["kind"].as_str().unwrap_or(""), pattern);
        let name = if pattern {
            text(&group["template"])
        } else {
            text(&group["root_type"])
        };
        let subject = format!("[stackfold] {what}: {name} ({})", text(&note["rule"]));
        let mut body = format!(
            "{what} ({}): {} {}\n\n{} events, first seen {}, last seen {}\n",
            text(&note["rule"]),
            if pattern { "" } else { name.as_str() },
            text(&group["template"]),
            group["count"],
            text(&group["first_seen"]),
            text(&group["last_seen"]),
        );
        if let Some(url) = note["url"].as_str() {
            body.push_str(&format!("\n{url}\n"));
        }
        let latest = text(&note["event"]["text"]);
        if !latest.is_empty() {
            let lines: Vec<&str> = latest.lines().take(60).collect();
            body.push_str(&format!("\nLatest event:\n\n{}\n", lines.join("\n")));
        }
        let mut message = lettre::Message::builder()
            .from(self.from.clone())
            .subject(subject)
            .message_id(Some(format!("<{id}@stackfold>")));
        for address in to.split(',') {
            let mailbox = address.parse().map_err(|e| format!("{address:?}: {e}"))?;
            message = message.to(mailbox);
        }
        let message = message.body(body).map_err(|e| e.to_string())?;
        self.transport
            .send(&message)
            .map(|_| ())
            .map_err(|e| format!("SMTP: {e}"))
    }
}

type Due = (String, String, String, u32, i64);

fn claim_due(store: &Store, now: Timestamp) -> Result<Vec<Due>> {
    let mut conn = store.conn.lock().unwrap_or_else(|e| e.into_inner());
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let now_ms = now.as_millisecond();
    let due: Vec<Due> = {
        let mut statement = tx.prepare(
            "SELECT id, target, payload, attempts, created_ms FROM notification
             WHERE sent_ms IS NULL AND failed = 0 AND due_ms <= ?1 AND claimed_until_ms <= ?1
             ORDER BY due_ms LIMIT 50",
        )?;
        let rows = statement.query_map([now_ms], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get::<_, i64>(3)?.clamp(0, 64) as u32,
                r.get(4)?,
            ))
        })?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    for (id, ..) in &due {
        tx.execute(
            "UPDATE notification SET claimed_until_ms = ?2 WHERE id = ?1",
            params![id, now_ms + CLAIM.as_millis() as i64],
        )?;
    }
    tx.commit()?;
    Ok(due)
}

/// One evaluation and one round of delivery: what `index` does after its last commit (a
/// notification not confirmed now stays in the outbox for the next process with alerts).
pub fn run_once(data: &std::path::Path, settings: &AlertSettings) -> Result<usize> {
    let store = Store::open(data)?;
    let reader = Reader::open(data)?;
    evaluate(&reader, &store, settings, Timestamp::now()).map_err(|err| match err {
        AlertError::Store(err) => err,
        AlertError::Query(err) => crate::error::Error::Config(format!("alerts: {err}")),
    })?;
    let mailer = settings
        .smtp
        .as_ref()
        .map(Mailer::new)
        .transpose()
        .map_err(crate::error::Error::Config)?;
    let agent = agent();
    deliver_due(&store, &agent, mailer.as_ref(), Timestamp::now())
}

/// The HTTP client of webhooks: a status is an answer, not an error; 10 s at most.
fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(REQUEST_TIMEOUT))
        .http_status_as_error(false)
        .build()
        .into()
}

/// How often the alerter looks for new commits and due notifications.
const TICK: Duration = Duration::from_millis(250);

/// Evaluates and delivers on a thread of its own until `stop` is set: what `tail`, `run` and
/// `serve` run beside their writers when the config has `[[alerts]]`.
pub fn spawn(
    data: PathBuf,
    settings: AlertSettings,
    stop: Arc<AtomicBool>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("alerts".into())
        .spawn(move || {
            let store = match Store::open(&data) {
                Ok(store) => store,
                Err(err) => {
                    tracing::error!(error = %crate::error::Chain(&err), "alerts: the triage database");
                    return;
                }
            };
            let mailer = match settings.smtp.as_ref().map(Mailer::new).transpose() {
                Ok(mailer) => mailer,
                Err(err) => {
                    tracing::error!(error = %err, "alerts: e-mail");
                    None
                }
            };
            let agent = agent();
            let mut reader = None;
            while !stop.load(Ordering::Relaxed) {
                if reader.is_none() {
                    reader = Reader::open(&data).ok();
                }
                if let Some(reader) = &reader {
                    let evaluated = reader
                        .reload()
                        .map_err(AlertError::from)
                        .and_then(|()| evaluate(reader, &store, &settings, Timestamp::now()));
                    if let Err(err) = evaluated {
                        tracing::warn!(error = %err, "alerts: evaluation failed; retried");
                    }
                }
                if let Err(err) = deliver_due(&store, &agent, mailer.as_ref(), Timestamp::now()) {
                    tracing::warn!(error = %crate::error::Chain(&err), "alerts: delivery");
                }
                std::thread::sleep(TICK);
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queued(id: &str, target: &str) -> Queued {
        let group: GroupSummary = serde_json::from_value(serde_json::json!({
            "fingerprint": "f".repeat(32), "count": 1, "first_seen": null, "last_seen": null,
            "root_type": "E", "template": "t", "language": "java", "top_frame": null,
            "first_tag": null, "apps": [], "envs": [], "hosts": [], "tags": []
        }))
        .unwrap();
        let note = Notification {
            id: id.to_owned(),
            rule: "r".into(),
            kind: "new",
            group: Some(group),
            pattern: None,
            event: None,
            url: None,
        };
        Queued {
            payload: body(&note, Format::Json),
            note,
            target: target.to_owned(),
            format: Format::Json,
            throttle: Duration::from_secs(3600),
        }
    }

    #[test]
    fn an_undelivered_notification_stays_pending_with_its_error_and_is_queued_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let now = Timestamp::now();
        // Port 1 on loopback: nobody listens.
        let dead = "http://127.0.0.1:1/hook";
        enqueue(&store, &[queued("a", dead)], 10, now).unwrap();
        // The same id again, and another notification of the same group and rule within
        // the throttle: neither is queued.
        enqueue(&store, &[queued("a", dead), queued("b", dead)], 12, now).unwrap();
        assert_eq!(watermark(&store).unwrap(), Some(12));
        let agent = ureq::Agent::new_with_defaults();
        assert_eq!(deliver_due(&store, &agent, None, now).unwrap(), 0);
        let entries = outbox(&store, 10).unwrap();
        assert_eq!(entries.len(), 1);
        let entry = &entries[0];
        assert_eq!((entry.id.as_str(), entry.state.as_str()), ("a", "pending"));
        assert_eq!(entry.attempts, 1);
        assert!(entry.last_error.is_some());
        // Not due again before its backoff.
        assert_eq!(claim_due(&store, now).unwrap().len(), 0);
        let later = now + SignedDuration::from_secs(2);
        assert_eq!(claim_due(&store, later).unwrap().len(), 1);
    }

    #[test]
    fn a_slack_body_has_slacks_text_and_the_generic_fields() {
        let mut q = queued("a", "https://hooks.slack.com/x");
        q.note.url = Some("https://sf.example.com/#/group/ff".into());
        let slack: serde_json::Value = serde_json::from_str(&body(&q.note, Format::Slack)).unwrap();
        let text = slack["text"].as_str().unwrap();
        assert!(text.starts_with("*New problem* (r): `E` t"), "{text}");
        assert!(
            text.ends_with("<https://sf.example.com/#/group/ff|open>"),
            "{text}"
        );
        assert_eq!(slack["id"], "a");
        let generic: serde_json::Value =
            serde_json::from_str(&body(&q.note, Format::Json)).unwrap();
        assert!(generic.get("text").is_none());
        for key in ["id", "rule", "kind", "group", "event", "url"] {
            assert!(generic.get(key).is_some(), "{key}");
        }
    }

    #[test]
    fn a_notification_claimed_by_a_sender_that_died_is_sent_again_after_the_claim() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let now = Timestamp::now();
        enqueue(&store, &[queued("a", "http://127.0.0.1:1/")], 1, now).unwrap();
        assert_eq!(claim_due(&store, now).unwrap().len(), 1);
        // Its sender was killed before it could answer: nobody else sends it meanwhile...
        assert_eq!(
            claim_due(&store, now + SignedDuration::from_secs(5))
                .unwrap()
                .len(),
            0
        );
        // ...and once the claim is over, the next sender does.
        let later = now + SignedDuration::try_from(CLAIM).unwrap() + SignedDuration::from_secs(1);
        assert_eq!(claim_due(&store, later).unwrap().len(), 1);
        assert!(
            CLAIM > REQUEST_TIMEOUT,
            "a live sender's claim outlasts its request"
        );
    }

    #[test]
    fn stable_ids_differ_by_rule_kind_and_occasion() {
        let a = notification_id("r", When::New, "fp");
        assert_eq!(a, notification_id("r", When::New, "fp"));
        assert_ne!(a, notification_id("r2", When::New, "fp"));
        assert_ne!(a, notification_id("r", When::Regression, "fp"));
        assert_ne!(a, notification_id("r", When::New, "fp2"));
    }
}
