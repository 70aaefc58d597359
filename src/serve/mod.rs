//! Stage 7, serve: the HTTP API and the web UI over the index (axum on tokio).
//!
//! `router(state)` builds the whole app, so tests call it without a socket. Index work runs
//! on the blocking pool with a time limit; reads see new commits without a restart. With a
//! users file every route but `/healthz` needs Basic authentication; with a certificate and
//! key, the server speaks TLS (rustls).

mod api;
mod auth;
mod coalesce;
mod context;
mod error;
mod es;
mod limits;
mod live;
mod metrics;
mod otlp;
mod warm;
mod web;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::header;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

pub use auth::{Users, Verdict, htpasswd_line};
pub use error::ApiError;
pub use metrics::Metrics;
pub use web::WebAssets;

use crate::error::{Error, Result};
use crate::ingest::syslog::{self, SyslogListen};
use crate::query::Reader;
use limits::HEAD_TIMEOUT;
pub use limits::{IDLE, MAX_CONNECTIONS};

/// Largest request body read: the API takes none, so this only bounds what a client can make
/// the server drain before answering.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub reader: Arc<Reader>,
    pub data: PathBuf,
    /// Who may read (the UI and `/api/*`); everyone when `None` and no ingest users either.
    pub users: Option<Arc<Users>>,
    /// Who may send logs (`/_bulk` and the probes); see [`authenticate`].
    pub ingest_users: Option<Arc<Users>>,
    pub metrics: Arc<Metrics>,
    pub web: WebAssets,
    /// Queries running at once: [`query_slots`]. Each already searches its segments on
    /// every core, but part of a query runs on one thread (merging the segments' answers,
    /// reading stored events, writing JSON), so a few at once keep the cores busy; beyond
    /// that each query in flight only gets slower.
    pub queries: Arc<tokio::sync::Semaphore>,
    /// The turn of queries that collect many hits (`api::Lane::Heavy`): one at a time among
    /// themselves, beside the others.
    pub heavy_queries: Arc<tokio::sync::Semaphore>,
    /// Where shipped logs go (`POST /_bulk`); `None` when another process writes the index.
    pub inlet: Option<crate::ingest::Inlet>,
    /// How long a query may wait for its turn and run ([`api::QUERY_TIMEOUT`]).
    pub query_timeout: std::time::Duration,
    /// The groups' triage status, beside the index.
    pub triage: Arc<crate::triage::Store>,
    /// Identical queries in flight, answered once (see [`coalesce`]).
    pub inflight: coalesce::InFlight,
}

/// How many queries run at once: two per core. Measured with `benches/load.sh` (50 clients,
/// the UI's mix, 1.73 M events, 2 vCPU): one at a time 341 requests/s and p99 305 ms, two
/// 368–454/s and 251–280 ms, four 519/s and 202 ms.
fn query_slots() -> usize {
    2 * std::thread::available_parallelism().map_or(1, |n| n.get())
}

impl AppState {
    /// State over the index under `data`, created empty when there is none: a central
    /// server starts before anything was sent to it.
    pub fn open(data: PathBuf, users: Option<Users>, web: WebAssets) -> Result<AppState> {
        let (index, fields) = crate::index::open_or_create_for_reading(&data)?;
        let blocks = crate::index::blocks::BlockSearch::open_for_reading(&data)?;
        let texts = crate::index::texts::TextStore::open_for_reading(&data)?;
        let reader = Arc::new(
            Reader::new(index, fields)?
                .with_blocks(blocks)
                .with_texts(texts),
        );
        let triage = Arc::new(crate::triage::Store::open(&data)?);
        Ok(AppState {
            triage,
            inflight: coalesce::InFlight::default(),
            reader,
            data,
            users: users.map(Arc::new),
            ingest_users: None,
            metrics: Arc::new(Metrics::new()),
            web,
            queries: Arc::new(tokio::sync::Semaphore::new(query_slots())),
            heavy_queries: Arc::new(tokio::sync::Semaphore::new(1)),
            inlet: None,
            query_timeout: api::QUERY_TIMEOUT,
        })
    }

    /// The same state, with `users` the only ones who may send logs.
    pub fn with_ingest_users(mut self, users: Users) -> AppState {
        self.ingest_users = Some(Arc::new(users));
        self
    }

    /// The same state, taking shipped logs through `inlet`.
    pub fn with_inlet(mut self, inlet: crate::ingest::Inlet) -> AppState {
        self.inlet = Some(inlet);
        self
    }
}

/// The whole app: API, health, metrics and UI, behind authentication when configured.
pub fn router(state: AppState) -> Router {
    let api = api_routes(&state);
    let elasticsearch = Router::new()
        .route("/", get(es::root).head(es::root_head))
        .route("/_bulk", post(es::bulk).put(es::bulk))
        .route("/{index}/_bulk", post(es::bulk).put(es::bulk))
        .route("/_license", get(es::license))
        .route("/_xpack", get(es::xpack))
        .route("/_cluster/health", get(es::health))
        .route("/_nodes", get(es::nodes))
        .route("/_nodes/{*rest}", get(es::nodes))
        .route(
            "/_index_template/{name}",
            get(es::exists).head(es::exists).put(es::acknowledged),
        )
        .route(
            "/_template/{name}",
            get(es::exists).head(es::exists).put(es::acknowledged),
        )
        .route(
            "/_ilm/policy/{name}",
            get(es::exists).head(es::exists).put(es::acknowledged),
        )
        .route(
            "/_ingest/pipeline/{name}",
            get(es::exists).head(es::exists).put(es::acknowledged),
        )
        .route(
            "/_data_stream/{name}",
            get(es::exists).head(es::exists).put(es::acknowledged),
        )
        .layer(DefaultBodyLimit::max(crate::ingest::MAX_BULK_BYTES))
        .layer(middleware::from_fn(es::product_header));
    let otlp = Router::new()
        .route("/v1/logs", post(otlp::logs))
        .layer(DefaultBodyLimit::max(crate::ingest::MAX_BULK_BYTES));
    Router::new()
        .route("/healthz", get(api::healthz))
        .merge(api)
        .merge(elasticsearch)
        .merge(otlp)
        .layer(middleware::from_fn_with_state(state.clone(), authenticate))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            count_requests,
        ))
        .layer(middleware::from_fn(read_body_first))
        .with_state(state)
}

/// The API, the metrics and the UI, with identical queries in flight answered once (see
/// [`coalesce`]); [`router`] puts authentication and the shippers' endpoints around them.
fn api_routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/api/search", get(api::search))
        .route("/api/histogram", get(api::histogram))
        .route("/api/fields", get(api::fields))
        .route("/api/exceptions", get(api::exceptions))
        .route("/api/exceptions/{fingerprint}", get(api::exception))
        .route(
            "/api/exceptions/{fingerprint}/status",
            post(api::set_status),
        )
        .route(
            "/api/exceptions/{fingerprint}/history",
            get(api::status_history),
        )
        .route("/api/patterns", get(api::patterns))
        .route("/api/patterns/{id}", get(api::pattern))
        .route("/api/patterns/{id}/status", post(api::set_pattern_status))
        .route("/api/patterns/{id}/history", get(api::pattern_history))
        .route("/api/alerts", get(api::alerts))
        .route("/api/events/{id}", get(api::event))
        .route("/api/events/{id}/context", get(api::context))
        .route("/api/live", get(live::live))
        .route("/api/openapi.json", get(api::openapi))
        .route("/api/{*rest}", get(api::not_found))
        .route("/metrics", get(api::metrics))
        .fallback(get(ui))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            coalesce::coalesce,
        ))
}

/// Reads the whole request body (up to [`MAX_BODY_BYTES`], or for a bulk request
/// [`MAX_BULK_BYTES`](crate::ingest::MAX_BULK_BYTES)) before anything answers, so that a
/// client still streaming its body sees the status (401, 405, 400...) instead of a reset
/// connection. A larger body is refused with 413 once the limit has been read.
async fn read_body_first(request: Request, next: Next) -> Response {
    let limit = if is_ingest(request.uri().path()) {
        crate::ingest::MAX_BULK_BYTES
    } else {
        MAX_BODY_BYTES
    };
    let (parts, body) = request.into_parts();
    let read = tokio::time::timeout(limits::BODY_TIMEOUT, axum::body::to_bytes(body, limit));
    match read.await {
        Ok(Ok(bytes)) => {
            next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
                .await
        }
        Ok(Err(_)) => ApiError::TooLarge(limit).into_response(),
        Err(_) => ApiError::SlowBody(limits::BODY_TIMEOUT).into_response(),
    }
}

/// Whether `path` is a shipper's: `_bulk`, the probes shippers make, OTLP's `/v1/logs`.
fn is_ingest(path: &str) -> bool {
    path.starts_with("/_") || path.ends_with("/_bulk") || path == "/v1/logs"
}

async fn ui(State(state): State<AppState>, uri: axum::http::Uri) -> Response {
    state.web.respond(&uri)
}

async fn count_requests(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let class = format!("{}xx", response.status().as_u16() / 100);
    state
        .metrics
        .requests
        .get_or_create(&metrics::StatusLabel { class })
        .inc();
    response
}

/// Lets `/healthz` through. Reading (the UI, `/api/*`) needs the credentials of a user of
/// `--basic-auth-file` when one is given; sending logs (`_bulk` and the probes) those of a
/// user of `--ingest-auth-file`, as Basic or `ApiKey`; `/` either. Once any users file is
/// given, readers cannot send and shippers cannot read: a route whose users file is missing
/// refuses everyone (the body was already read by [`read_body_first`]).
async fn authenticate(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if state.users.is_none() && state.ingest_users.is_none() {
        return next.run(request).await;
    }
    if request.uri().path() == "/healthz" {
        return next.run(request).await;
    }
    // `/` (the UI, or Elasticsearch's info document) is for readers and shippers alike.
    let allowed: Vec<Arc<Users>> = match request.uri().path() {
        "/" => [state.users.clone(), state.ingest_users.clone()]
            .into_iter()
            .flatten()
            .collect(),
        path if is_ingest(path) => state.ingest_users.iter().cloned().collect(),
        _ => state.users.iter().cloned().collect(),
    };
    if allowed.is_empty() {
        return ApiError::Unauthorized.into_response();
    }
    let header = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let Some(value) = header else {
        return ApiError::Unauthorized.into_response();
    };
    let verdicts = tokio::task::spawn_blocking(move || {
        allowed
            .iter()
            .map(|users| users.verdict(&value))
            .collect::<Vec<_>>()
    })
    .await
    .unwrap_or_default();
    if verdicts.contains(&Verdict::Granted) {
        let mut request = request;
        if let Some(user) = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(auth::user_of)
        {
            request.extensions_mut().insert(Actor(user));
        }
        return next.run(request).await;
    }
    // Every refusal takes as long as the slowest: waited here, holding no thread.
    let not_before = verdicts.iter().filter_map(|v| match v {
        Verdict::Refused { not_before } => Some(*not_before),
        Verdict::Granted => None,
    });
    if let Some(at) = not_before.max() {
        tokio::time::sleep_until(at.into()).await;
    }
    ApiError::Unauthorized.into_response()
}

/// The authenticated user of a request, as triage records who changed what.
#[derive(Debug, Clone)]
pub struct Actor(pub String);

/// How `stackfold serve` listens.
#[derive(Debug, Clone)]
pub struct Listen {
    pub addr: SocketAddr,
    /// PEM certificate chain and private key, for HTTPS.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Syslog listeners, and the parser that finds each message's host and program.
    pub syslog: Vec<SyslogListen>,
    pub syslog_parser: Option<crate::parse::HeaderParser>,
    /// Connections open at once, and how long one may stay quiet (see `limits`).
    pub max_connections: usize,
    pub idle: std::time::Duration,
}

/// Binds the syslog listeners and starts taking their messages into `state`'s inlet.
async fn start_syslog(state: &AppState, listen: &Listen) -> Result<()> {
    let failed = |context: String, source| Error::Serve { context, source };
    if listen.syslog.is_empty() {
        return Ok(());
    }
    let Some(inlet) = state.inlet.clone() else {
        return Err(failed(
            "syslog".into(),
            std::io::Error::other(
                "this server does not take logs: another process writes its index",
            ),
        ));
    };
    let to = syslog::Delivery {
        inlet,
        metrics: Arc::clone(&state.metrics.ingest),
    };
    let parser = listen.syslog_parser.clone().unwrap_or_else(|| {
        crate::parse::HeaderParser::new(jiff::tz::TimeZone::UTC, jiff::Zoned::now().year(), None)
    });
    for &at in &listen.syslog {
        match at {
            SyslogListen::Tcp(addr) => {
                let socket = tokio::net::TcpListener::bind(addr)
                    .await
                    .map_err(|e| failed(format!("syslog on tcp://{addr}"), e))?;
                tokio::spawn(syslog::serve_tcp(socket, to.clone(), parser.clone()));
            }
            SyslogListen::Udp(addr) => {
                let socket = tokio::net::UdpSocket::bind(addr)
                    .await
                    .map_err(|e| failed(format!("syslog on udp://{addr}"), e))?;
                tokio::spawn(syslog::serve_udp(socket, to.clone(), parser.clone()));
            }
        }
        tracing::info!(listen = %addr_of(at), "taking syslog");
    }
    Ok(())
}

fn addr_of(at: SyslogListen) -> String {
    match at {
        SyslogListen::Tcp(addr) => format!("tcp://{addr}"),
        SyslogListen::Udp(addr) => format!("udp://{addr}"),
    }
}

/// Serves `state` until Ctrl-C, SIGTERM or `stop` (which it then sets, for whoever else
/// runs in the process); calls `ready` with the bound URL once listening.
pub fn serve(
    state: AppState,
    listen: Listen,
    stop: Arc<AtomicBool>,
    ready: impl FnOnce(&str) + Send,
) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("stackfold-http")
        .build()
        .map_err(|source| Error::Serve {
            context: "starting the runtime".into(),
            source,
        })?;
    runtime.block_on(async move {
        start_syslog(&state, &listen).await?;
        tokio::spawn(warm::keep_warm(state.clone()));
        let app = router(state).into_make_service();
        let handle = axum_server::Handle::new();
        let shutdown = handle.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = shutdown_signal() => {}
                _ = stopped(&stop) => {}
            }
            stop.store(true, Ordering::Relaxed);
            shutdown.graceful_shutdown(Some(std::time::Duration::from_secs(5)));
        });
        let scheme = if listen.tls.is_some() {
            "https"
        } else {
            "http"
        };
        let limited = limits::Limited::new(listen.max_connections, listen.idle);
        let head_timeout = HEAD_TIMEOUT.min(listen.idle);
        let server = {
            let handle = handle.clone();
            async move {
                match listen.tls {
                    Some((cert, key)) => {
                        let config =
                            axum_server::tls_rustls::RustlsConfig::from_pem_file(&cert, &key)
                                .await
                                .map_err(|source| Error::Serve {
                                    context: format!(
                                        "TLS certificate {} and key {}",
                                        cert.display(),
                                        key.display()
                                    ),
                                    source,
                                })?;
                        let tls =
                            axum_server::tls_rustls::RustlsAcceptor::new(config).acceptor(limited);
                        let mut server = axum_server::bind(listen.addr).acceptor(tls);
                        server
                            .http_builder()
                            .http1()
                            .header_read_timeout(head_timeout);
                        server.handle(handle).serve(app).await
                    }
                    None => {
                        let mut server = axum_server::bind(listen.addr).acceptor(limited);
                        server
                            .http_builder()
                            .http1()
                            .header_read_timeout(head_timeout);
                        server.handle(handle).serve(app).await
                    }
                }
                .map_err(|source| Error::Serve {
                    context: format!("serving on {}", listen.addr),
                    source,
                })
            }
        };
        let server = tokio::spawn(server);
        if let Some(addr) = handle.listening().await {
            ready(&format!("{scheme}://{addr}/"));
        }
        server.await.map_err(|e| Error::Serve {
            context: "the server task".into(),
            source: std::io::Error::other(e),
        })?
    })
}

async fn stopped(stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("installing SIGTERM");
    tokio::select! {
        _ = ctrl_c => {}
        _ = term.recv() => {}
    }
}

#[cfg(test)]
mod ingest_tests;
#[cfg(test)]
mod tests;
