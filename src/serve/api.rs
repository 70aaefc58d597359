//! The handlers of `/api/*`, `/healthz` and `/metrics`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::context::{ContextLine, MAX_CONTEXT_LINES, lines_around};
use super::error::ApiError;
use super::{Actor, AppState};
use crate::error::Chain;
use crate::query::time::parse_time;
use crate::query::{
    Filters, GroupDetail, GroupList, GroupSort, Histogram, PatternDetail, PatternList, QueryError,
    Reader, SearchPage, StoredEvent, ValueCount,
};
use crate::triage::{self, Change, GroupQuery, Record, StatusFilter};

/// How long one query may run before the client gets a 503.
pub const QUERY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);
/// Default and largest page of events.
const DEFAULT_LIMIT: usize = 50;
/// Default trend buckets of the group list.
const TREND_BUCKETS: usize = 24;

/// Query parameters shared by the endpoints; several values of a filter are comma-separated.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    pub q: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub app: Option<String>,
    pub env: Option<String>,
    pub host: Option<String>,
    pub tag: Option<String>,
    pub level: Option<String>,
    pub logtype: Option<String>,
    pub limit: Option<usize>,
    pub cursor: Option<String>,
    pub interval: Option<i64>,
    pub sort: Option<String>,
    pub before: Option<u64>,
    pub after: Option<u64>,
    /// Only events that hold an exception.
    pub exceptions: Option<bool>,
    /// Only the events of these exception groups.
    pub fingerprint: Option<String>,
    /// Only the exception groups of this triage status (`unresolved` by default, `all`).
    pub status: Option<String>,
    /// Only the events of these patterns.
    pub pattern: Option<String>,
}

fn list(value: &Option<String>) -> Vec<String> {
    value
        .iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
        .collect()
}

impl Params {
    pub(super) fn filters(&self) -> Result<Filters, ApiError> {
        let now = jiff::Timestamp::now();
        let time = |t: &Option<String>, name: &str| {
            t.as_deref()
                .filter(|t| !t.trim().is_empty())
                .map(|t| parse_time(t, now))
                .transpose()
                .map_err(|e| ApiError::bad(format!("{name}: {}", Chain(&e))))
        };
        Ok(Filters {
            from: time(&self.from, "from")?,
            to: time(&self.to, "to")?,
            app: list(&self.app),
            env: list(&self.env),
            host: list(&self.host),
            tag: list(&self.tag),
            logtype: list(&self.logtype),
            level: list(&self.level),
            exceptions_only: self.exceptions.unwrap_or(false),
            fingerprint: list(&self.fingerprint),
            pattern: list(&self.pattern),
            ..Filters::default()
        })
    }

    pub(super) fn text(&self) -> String {
        self.q.clone().unwrap_or_default()
    }
}

/// The parameters, or a 400 that says which one is wrong.
pub(super) fn params(query: Result<Query<Params>, QueryRejection>) -> Result<Params, ApiError> {
    query
        .map(|Query(p)| p)
        .map_err(|e| ApiError::bad(e.body_text()))
}

/// Runs `work` on the blocking pool with the query timeout, timing it.
pub(super) async fn blocking<T: Send + 'static>(
    state: &AppState,
    work: impl FnOnce(&Reader) -> Result<T, QueryError> + Send + 'static,
) -> Result<T, ApiError> {
    run_query(state, Lane::Light, work).await
}

/// Pages larger than this go through the heavy lane.
pub(super) const HEAVY_PAGE: usize = 1000;

/// Which turn a query waits for: queries that collect many hits (pages over [`HEAVY_PAGE`])
/// take turns among themselves, so the others never queue behind a pile of them (fifty
/// clients asking 10,000 hits made a one-hit query wait 15 s).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Lane {
    Light,
    Heavy,
}

impl Lane {
    pub(super) fn of_page(limit: usize) -> Lane {
        if limit > HEAVY_PAGE {
            Lane::Heavy
        } else {
            Lane::Light
        }
    }
}

/// Runs `work` on the blocking pool when its lane's turn comes, within the time limit.
pub(super) async fn run_query<T: Send + 'static>(
    state: &AppState,
    lane: Lane,
    work: impl FnOnce(&Reader) -> Result<T, QueryError> + Send + 'static,
) -> Result<T, ApiError> {
    let reader = Arc::clone(&state.reader);
    let started = Instant::now();
    let queries = Arc::clone(match lane {
        Lane::Light => &state.queries,
        Lane::Heavy => &state.heavy_queries,
    });
    let run = async move {
        // Waiting for a turn counts against the time limit too.
        let turn = queries
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        // The turn ends when the work does, not when the request gives up waiting for it: a
        // search cannot be stopped midway, and work whose answer nobody waits for any more
        // still takes the cores and memory it takes (fifty clients asking 10,000 hits each,
        // with the turn dropped at the time limit: fourteen such searches ran at once, and
        // the server grew to 670 MB).
        tokio::task::spawn_blocking(move || {
            let _turn = turn;
            work(&reader)
        })
        .await
    };
    let result = tokio::time::timeout(state.query_timeout, run).await;
    state
        .metrics
        .query_seconds
        .observe(started.elapsed().as_secs_f64());
    match result {
        Err(_) => Err(ApiError::Timeout),
        Ok(Err(join)) => Err(ApiError::Internal(format!("query task: {join}"))),
        Ok(Ok(result)) => result.map_err(ApiError::from),
    }
}

pub async fn search(
    State(state): State<AppState>,
    query: Result<Query<Params>, QueryRejection>,
) -> Result<Json<SearchPage>, ApiError> {
    let p = params(query)?;
    let filters = p.filters()?;
    // An empty cursor is none (a form or a script that always sends the parameter).
    let cursor = p.cursor.clone().filter(|c| !c.is_empty());
    let (text, limit) = (p.text(), p.limit.unwrap_or(DEFAULT_LIMIT));
    let page = run_query(&state, Lane::of_page(limit), move |r| {
        r.search_page(&text, &filters, limit, cursor.as_deref())
    })
    .await?;
    Ok(Json(page))
}

pub async fn histogram(
    State(state): State<AppState>,
    query: Result<Query<Params>, QueryRejection>,
) -> Result<Json<Histogram>, ApiError> {
    let p = params(query)?;
    let filters = p.filters()?;
    let (text, interval) = (p.text(), p.interval);
    let histogram = blocking(&state, move |r| r.histogram(&text, &filters, interval)).await?;
    Ok(Json(histogram))
}

/// `GET /api/fields`: the top values of each keyword field.
#[derive(Debug, Serialize)]
pub struct FieldValues {
    pub fields: BTreeMap<String, Vec<ValueCount>>,
}

pub async fn fields(
    State(state): State<AppState>,
    query: Result<Query<Params>, QueryRejection>,
) -> Result<Json<FieldValues>, ApiError> {
    let p = params(query)?;
    let filters = p.filters()?;
    let text = p.text();
    let top = p.limit.unwrap_or(10);
    let fields = blocking(&state, move |r| r.field_values(&text, &filters, top)).await?;
    Ok(Json(FieldValues { fields }))
}

pub async fn exceptions(
    State(state): State<AppState>,
    query: Result<Query<Params>, QueryRejection>,
) -> Result<Json<GroupList>, ApiError> {
    triaged_list(&state, query, triage::group_list).await
}

/// [`triage::group_list`] or [`triage::pattern_list`].
type Listing<T> = fn(
    &Reader,
    &std::collections::HashMap<String, Record>,
    GroupQuery<'_>,
) -> Result<T, QueryError>;

/// A listing of groups or patterns (`list`: [`triage::group_list`] or
/// [`triage::pattern_list`]) for the request's query, filters, sort, limit and `status`
/// (`unresolved` unless given).
async fn triaged_list<T: Send + 'static>(
    state: &AppState,
    query: Result<Query<Params>, QueryRejection>,
    list: Listing<T>,
) -> Result<Json<T>, ApiError> {
    let p = params(query)?;
    let filters = p.filters()?;
    let (sort, limit) = sort_and_limit(&p)?;
    let text = p.text();
    let status = match p.status.as_deref() {
        None | Some("") => StatusFilter::Unresolved,
        Some(s) => s.parse().map_err(ApiError::bad)?,
    };
    let records = on_triage(state, |store| store.records()).await?;
    let answer = run_query(state, Lane::of_page(limit), move |r| {
        let query = GroupQuery {
            text: &text,
            filters: &filters,
            sort,
            limit,
            trend_buckets: TREND_BUCKETS,
            status,
        };
        list(r, &records, query)
    })
    .await?;
    Ok(Json(answer))
}

/// `work` on the triage database, off the async threads; its failures are the server's.
async fn on_triage<T: Send + 'static>(
    state: &AppState,
    work: impl FnOnce(&triage::Store) -> crate::error::Result<T> + Send + 'static,
) -> Result<T, ApiError> {
    let store = Arc::clone(&state.triage);
    tokio::task::spawn_blocking(move || work(&store))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(|e| ApiError::Internal(Chain(&e).to_string()))
}

/// `POST /api/exceptions/{fingerprint}/status` with `{"status", "in_release"?,
/// "until_count"?, "until"?}`: records the change (durable when answered) with the
/// authenticated user, and answers the record.
pub async fn set_status(
    State(state): State<AppState>,
    Path(fingerprint): Path<String>,
    actor: Option<Extension<Actor>>,
    body: Result<Json<Change>, JsonRejection>,
) -> Result<Json<Record>, ApiError> {
    check_fingerprint(&fingerprint)?;
    let only = Filters {
        fingerprint: vec![fingerprint.clone()],
        ..Filters::default()
    };
    record_change(&state, fingerprint, only, actor, body).await
}

/// `POST /api/patterns/{id}/status`: [`set_status`] for a pattern.
pub async fn set_pattern_status(
    State(state): State<AppState>,
    Path(id): Path<String>,
    actor: Option<Extension<Actor>>,
    body: Result<Json<Change>, JsonRejection>,
) -> Result<Json<Record>, ApiError> {
    let id = check_pattern_id(&id)?;
    let only = Filters {
        pattern: vec![id.clone()],
        ..Filters::default()
    };
    record_change(&state, id, only, actor, body).await
}

/// Records the change of `body` for `key` (a fingerprint or a pattern id), which must have
/// events (`only` selects them), as the authenticated user.
async fn record_change(
    state: &AppState,
    key: String,
    only: Filters,
    actor: Option<Extension<Actor>>,
    body: Result<Json<Change>, JsonRejection>,
) -> Result<Json<Record>, ApiError> {
    let Json(change) = body.map_err(|e| ApiError::bad(e.body_text()))?;
    if let Some(problem) = change.problem() {
        return Err(ApiError::bad(problem));
    }
    if blocking(state, move |r| r.count("", &only)).await? == 0 {
        let what = if triage::is_pattern_id(&key) {
            "pattern"
        } else {
            "exception group"
        };
        return Err(ApiError::NotFound(format!("no {what} {key}")));
    }
    let by = actor.map_or_else(|| "anonymous".to_owned(), |Extension(Actor(user))| user);
    let record = on_triage(state, move |store| store.set(&key, &change, &by)).await?;
    Ok(Json(record))
}

/// `id` as a pattern id (16 hex digits), lower case.
fn check_pattern_id(id: &str) -> Result<String, ApiError> {
    if id.len() != 16 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::bad(format!(
            "{id:?} is not a pattern id (16 hex digits)"
        )));
    }
    Ok(id.to_ascii_lowercase())
}

fn check_fingerprint(fingerprint: &str) -> Result<(), ApiError> {
    if fingerprint.len() != 32 || !fingerprint.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::bad(format!(
            "{fingerprint:?} is not a fingerprint (32 hex digits)"
        )));
    }
    Ok(())
}

pub async fn exception(
    State(state): State<AppState>,
    Path(fingerprint): Path<String>,
    query: Result<Query<Params>, QueryRejection>,
) -> Result<Json<GroupDetail>, ApiError> {
    let p = params(query)?;
    check_fingerprint(&fingerprint)?;
    let filters = p.filters()?;
    let samples = p.limit.unwrap_or(10);
    let fp = fingerprint.clone();
    let wanted = fp.clone();
    let record = on_triage(&state, move |store| store.record(&wanted)).await?;
    let detail = blocking(&state, move |r| {
        let mut detail = r.group(&fp, &filters, samples)?;
        if let (Some(detail), Some(record)) = (detail.as_mut(), record.as_ref()) {
            triage::annotate(
                &mut detail.summary,
                &triage::status_of(r, record, Timestamp::now())?,
            );
        }
        Ok(detail)
    })
    .await?;
    match detail {
        Some(detail) => Ok(Json(detail)),
        None => Err(ApiError::NotFound(format!(
            "no exception group {fingerprint}"
        ))),
    }
}

/// The `sort` and `limit` of a listing (by count and 100 unless said), checked.
fn sort_and_limit(p: &Params) -> Result<(GroupSort, usize), ApiError> {
    let sort: GroupSort = match p.sort.as_deref() {
        None | Some("") => GroupSort::Count,
        Some(s) => s.parse()?,
    };
    let limit = p.limit.unwrap_or(100);
    if limit == 0 || limit > crate::query::MAX_LIMIT {
        return Err(ApiError::bad(format!(
            "limit must be between 1 and {}",
            crate::query::MAX_LIMIT
        )));
    }
    Ok((sort, limit))
}

/// `GET /api/patterns`: the patterns of the matching events without a trace, with exact
/// counts, breakdowns and trends, most frequent first (or `sort=last_seen|first_seen`).
pub async fn patterns(
    State(state): State<AppState>,
    query: Result<Query<Params>, QueryRejection>,
) -> Result<Json<PatternList>, ApiError> {
    triaged_list(&state, query, triage::pattern_list).await
}

/// `GET /api/patterns/{id}`: one pattern, its histogram and newest events (`limit`, 10).
pub async fn pattern(
    State(state): State<AppState>,
    Path(id): Path<String>,
    query: Result<Query<Params>, QueryRejection>,
) -> Result<Json<PatternDetail>, ApiError> {
    let p = params(query)?;
    let wanted = check_pattern_id(&id)?;
    let filters = p.filters()?;
    let samples = p.limit.unwrap_or(10);
    if samples == 0 || samples > crate::query::MAX_LIMIT {
        return Err(ApiError::bad(format!(
            "limit must be between 1 and {}",
            crate::query::MAX_LIMIT
        )));
    }
    let key = wanted.clone();
    let record = on_triage(&state, move |store| store.record(&key)).await?;
    let detail = blocking(&state, move |r| {
        let mut detail = r.pattern(&wanted, &filters, samples)?;
        if let Some(detail) = detail.as_mut() {
            let triaged = match &record {
                Some(record) => Some(triage::status_of(r, record, Timestamp::now())?),
                None => None,
            };
            triage::annotate_pattern(&mut detail.summary, triaged.as_ref());
        }
        Ok(detail)
    })
    .await?;
    detail
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no pattern {id}")))
}

async fn event_by_id(state: &AppState, id: String) -> Result<StoredEvent, ApiError> {
    let wanted = id.clone();
    let event = blocking(state, move |r| r.event(&wanted)).await?;
    event.ok_or_else(|| ApiError::NotFound(format!("no event {id}")))
}

pub async fn event(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<StoredEvent>, ApiError> {
    Ok(Json(event_by_id(&state, id).await?))
}

/// `GET /api/events/{id}/context`: an event and the lines around it in its file.
#[derive(Debug, Serialize)]
pub struct Context {
    pub event: StoredEvent,
    pub source: String,
    pub lines: Vec<ContextLine>,
}

pub async fn context(
    State(state): State<AppState>,
    Path(id): Path<String>,
    query: Result<Query<Params>, QueryRejection>,
) -> Result<Json<Context>, ApiError> {
    let p = params(query)?;
    let before = p.before.unwrap_or(20);
    let after = p.after.unwrap_or(20);
    if before > MAX_CONTEXT_LINES || after > MAX_CONTEXT_LINES {
        return Err(ApiError::bad(format!(
            "before and after are at most {MAX_CONTEXT_LINES}"
        )));
    }
    let event = event_by_id(&state, id).await?;
    let source = event.event.source.clone().into_owned();
    let first = event.event.line;
    let last = first + u64::from(event.event.lines.saturating_sub(1));
    let wanted = source.clone();
    let checkpoint = blocking(&state, move |r| Ok(r.file_checkpoint(&wanted))).await?;
    let Some(checkpoint) = checkpoint else {
        return Err(ApiError::NotFound(format!(
            "{source} is not a file this server read (shipped logs have no file here)"
        )));
    };
    let lines =
        tokio::task::spawn_blocking(move || lines_around(&checkpoint, first, last, before, after))
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?;
    match lines {
        Some(lines) => Ok(Json(Context {
            event,
            source,
            lines,
        })),
        None => Err(ApiError::NotFound(format!(
            "{source} can no longer be read"
        ))),
    }
}

pub async fn healthz() -> &'static str {
    "ok\n"
}

pub async fn metrics(State(state): State<AppState>) -> Response {
    let counted = blocking(&state, |r| r.count("", &Filters::default())).await;
    let events = counted.unwrap_or(0) as u64;
    let meta = crate::index::index_dir(&state.data).join("meta.json");
    let age = std::fs::metadata(meta)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .map(|d| d.as_secs_f64());
    let open = state.inlet.as_ref().map(|inlet| inlet.open_streams());
    let body = state.metrics.render(events, age, open);
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

/// The OpenAPI description, with Basic authentication required where this server requires
/// it (a `--basic-auth-file`), and not where it does not.
pub async fn openapi(State(state): State<AppState>) -> Response {
    static SPECS: std::sync::OnceLock<(String, String)> = std::sync::OnceLock::new();
    let (with_auth, without) = SPECS.get_or_init(|| {
        let text = include_str!("openapi.json");
        let mut spec: serde_json::Value =
            serde_json::from_str(text).expect("the OpenAPI description is JSON");
        if let Some(spec) = spec.as_object_mut() {
            spec.remove("security");
        }
        (text.to_owned(), spec.to_string())
    });
    let body = if state.users.is_some() {
        with_auth.clone()
    } else {
        without.clone()
    };
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

pub async fn not_found() -> ApiError {
    ApiError::NotFound("no such endpoint".into())
}

/// `GET /api/alerts`: the newest notifications (`limit`, 100 by default), sent, pending or
/// failed with the last error.
pub async fn alerts(
    State(state): State<AppState>,
    query: Result<Query<Params>, QueryRejection>,
) -> Result<Json<Alerts>, ApiError> {
    let p = params(query)?;
    let limit = p.limit.unwrap_or(100);
    if limit == 0 || limit > crate::query::MAX_LIMIT {
        return Err(ApiError::bad(format!(
            "limit must be between 1 and {}",
            crate::query::MAX_LIMIT
        )));
    }
    let alerts = on_triage(&state, move |store| triage::alerts::outbox(store, limit)).await?;
    Ok(Json(Alerts { alerts }))
}

/// The answer of `GET /api/alerts`.
#[derive(Debug, Serialize)]
pub struct Alerts {
    pub alerts: Vec<triage::alerts::OutboxEntry>,
}

/// `GET /api/exceptions/{fingerprint}/history`: every change of the group's status, oldest
/// first, with who made it and when.
pub async fn status_history(
    State(state): State<AppState>,
    Path(fingerprint): Path<String>,
) -> Result<Json<History>, ApiError> {
    check_fingerprint(&fingerprint)?;
    let changes = on_triage(&state, move |store| store.history(&fingerprint)).await?;
    Ok(Json(History { changes }))
}

/// `GET /api/patterns/{id}/history`: [`status_history`] for a pattern.
pub async fn pattern_history(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<History>, ApiError> {
    let id = check_pattern_id(&id)?;
    let changes = on_triage(&state, move |store| store.history(&id)).await?;
    Ok(Json(History { changes }))
}

/// The answer of `GET /api/exceptions/{fingerprint}/history`.
#[derive(Debug, Serialize)]
pub struct History {
    pub changes: Vec<Record>,
}
