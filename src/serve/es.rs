//! The Elasticsearch-compatible endpoints, so that a shipper needs only this server's URL:
//! `GET /` (the info document, for clients that do not ask for HTML), `POST /_bulk` and
//! `/{index}/_bulk`, and the probes shippers make before sending (license, xpack, cluster
//! health, nodes, index templates, ILM policies, ingest pipelines, data streams), answered so
//! that they proceed. Every answer carries `X-Elastic-Product: Elasticsearch`, without which
//! the official clients (8 and 9) refuse it.

use std::time::Instant;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::AppState;
use crate::error::Chain;
use crate::ingest::metrics::IngestMetrics;
use crate::ingest::{self, Body, Doc, MAX_BULK_BYTES, Outcome, Refused};

/// The Elasticsearch version announced: 8.x, which every shipper of the last years accepts
/// (Filebeat and Logstash 8 refuse 7 and below; clients 9 talk to 8 in compatibility mode).
const VERSION: &str = "8.17.0";

/// Adds `X-Elastic-Product` to every Elasticsearch answer, and `X-Stackfold`, by which an
/// edge knows it may compress with zstd.
pub async fn product_header(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    mark(&mut response);
    response
}

fn mark(response: &mut Response) {
    let headers = response.headers_mut();
    headers.insert(
        "x-elastic-product",
        HeaderValue::from_static("Elasticsearch"),
    );
    headers.insert(
        crate::ingest::edge::CENTRAL_HEADER,
        HeaderValue::from_static(env!("CARGO_PKG_VERSION")),
    );
}

/// Whether a request asks for HTML: a browser.
pub fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"))
}

/// `GET /`: the UI for browsers, the info document for everyone else.
pub async fn root(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: axum::http::Uri,
) -> Response {
    if wants_html(&headers) {
        return state.web.respond(&uri);
    }
    let mut response = Json(info()).into_response();
    mark(&mut response);
    response
}

/// `HEAD /`: Elasticsearch is here.
pub async fn root_head() -> Response {
    let mut response = StatusCode::OK.into_response();
    mark(&mut response);
    response
}

fn info() -> Value {
    json!({
        "name": "stackfold",
        "cluster_name": "stackfold",
        "cluster_uuid": "c3RhY2tmb2xkLWNsdXN0ZXI",
        "version": {
            "number": VERSION,
            "build_flavor": "default",
            "build_type": "stackfold",
            "build_hash": env!("CARGO_PKG_VERSION"),
            "build_date": "2026-01-01T00:00:00.000Z",
            "build_snapshot": false,
            "lucene_version": "9.12.0",
            "minimum_wire_compatibility_version": "7.17.0",
            "minimum_index_compatibility_version": "7.0.0"
        },
        "tagline": "You Know, for Search"
    })
}

/// `POST /_bulk`, `POST /{index}/_bulk`.
pub async fn bulk(State(state): State<AppState>, body: Bytes) -> Response {
    let started = Instant::now();
    let Some(inlet) = state.inlet.clone() else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable_shards_exception",
            "this server does not take logs: another process writes its index (use serve alone, or tail beside it)",
        );
    };
    let metrics = &state.metrics.ingest;
    metrics.received(INPUT, body.len());
    // Compression is told by the body's first bytes (`Content-Encoding: gzip` from Filebeat
    // and Vector, zstd too), not by the header.
    let decoded = match crate::decode::body(&body, MAX_BULK_BYTES) {
        Ok(decoded) => decoded,
        Err(crate::decode::BodyError::TooLarge { cap }) => {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "content_too_long_exception",
                &format!("a bulk request may hold at most {cap} bytes once decompressed"),
            );
        }
        Err(err) => {
            return error(
                StatusCode::BAD_REQUEST,
                "parse_exception",
                &Chain(&err).to_string(),
            );
        }
    };
    // What the queue holds is the decoded documents: count those.
    let bytes = decoded.len();
    let mut items = tokio::task::spawn_blocking(move || ingest::es::parse(&decoded))
        .await
        .unwrap_or_default();
    // The documents go to the folding thread; the items keep what the answer needs.
    let docs: Vec<Doc> = items
        .iter_mut()
        .filter_map(|item| {
            let body = item.doc.as_mut().ok()?;
            Some(Doc {
                id: item.id.clone(),
                create: item.action == "create",
                body: std::mem::replace(body, Body::Lines(Box::default())),
            })
        })
        .collect();
    let outcomes = if docs.is_empty() {
        Vec::new()
    } else {
        match inlet.send(docs, bytes).await {
            Ok(outcomes) => outcomes,
            Err(refused @ Refused::Busy) => {
                metrics.throttle(INPUT);
                return error(
                    StatusCode::TOO_MANY_REQUESTS,
                    "es_rejected_execution_exception",
                    &refused.to_string(),
                );
            }
            Err(refused @ Refused::Stopped) => {
                return error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable_shards_exception",
                    &refused.to_string(),
                );
            }
        }
    };
    count_documents(metrics, &items, &outcomes);
    metrics
        .bulk_seconds
        .observe(started.elapsed().as_secs_f64());
    let took = started.elapsed().as_millis() as u64;
    Json(ingest::es::answer(&items, &outcomes, took)).into_response()
}

const INPUT: &str = "elasticsearch";

fn count_documents(metrics: &IngestMetrics, items: &[ingest::es::Item], outcomes: &[Outcome]) {
    let refused = items.iter().filter(|i| i.doc.is_err()).count();
    metrics.count(INPUT, "refused", refused);
    for (outcome, name) in [
        (Outcome::Created, "created"),
        (Outcome::Noop, "noop"),
        (Outcome::Conflict, "conflict"),
        (Outcome::Failed, "failed"),
    ] {
        metrics.count(
            INPUT,
            name,
            outcomes.iter().filter(|o| **o == outcome).count(),
        );
    }
}

/// An Elasticsearch error answer: `{"error": {"type", "reason"}, "status"}`.
fn error(status: StatusCode, kind: &str, reason: &str) -> Response {
    let body = json!({
        "error": {"root_cause": [{"type": kind, "reason": reason}], "type": kind, "reason": reason},
        "status": status.as_u16()
    });
    (status, Json(body)).into_response()
}

/// `GET /_license`: a basic license, so that shippers that check for one proceed.
pub async fn license() -> Json<Value> {
    Json(
        json!({"license": {"status": "active", "uid": "stackfold", "type": "basic",
        "issue_date_in_millis": 0, "max_nodes": 1000, "issued_to": "stackfold",
        "issuer": "stackfold", "start_date_in_millis": -1}}),
    )
}

/// `GET /_xpack`: the features shippers look at before using ILM.
pub async fn xpack() -> Json<Value> {
    Json(json!({
        "build": {"hash": env!("CARGO_PKG_VERSION"), "date": "2026-01-01T00:00:00.000Z"},
        "license": {"uid": "stackfold", "type": "basic", "mode": "basic", "status": "active"},
        "features": {
            "ilm": {"available": true, "enabled": true},
            "monitoring": {"available": false, "enabled": false},
            "security": {"available": false, "enabled": false}
        },
        "tagline": "You know, for X"
    }))
}

/// `GET /_cluster/health`: green.
pub async fn health() -> Json<Value> {
    Json(
        json!({"cluster_name": "stackfold", "status": "green", "timed_out": false,
        "number_of_nodes": 1, "number_of_data_nodes": 1, "active_primary_shards": 1,
        "active_shards": 1, "relocating_shards": 0, "initializing_shards": 0,
        "unassigned_shards": 0, "active_shards_percent_as_number": 100.0}),
    )
}

/// `GET /_nodes`: one node, this server.
pub async fn nodes() -> Json<Value> {
    Json(json!({"_nodes": {"total": 1, "successful": 1, "failed": 0},
        "cluster_name": "stackfold",
        "nodes": {"stackfold": {"name": "stackfold", "version": VERSION,
            "roles": ["data", "ingest", "master"], "http": {"publish_address": "127.0.0.1"}}}}))
}

/// Index templates, ILM policies, ingest pipelines and data streams: a `GET` or `HEAD`
/// finds one (so a shipper does not install its own), a `PUT` is acknowledged. stackfold
/// maps fields itself and keeps one index; there is nothing to install.
pub async fn exists() -> Json<Value> {
    Json(json!({}))
}

/// See [`exists`].
pub async fn acknowledged() -> Json<Value> {
    Json(json!({"acknowledged": true}))
}
