//! `POST /v1/logs`: OTLP/HTTP logs, protobuf (`application/x-protobuf`) or JSON
//! (`application/json`), plain or gzip. Answered once the records are committed, with an
//! empty `ExportLogsServiceResponse` in the request's encoding; a request that does not
//! decode is a 400 (exporters do not retry it), a full queue a 429 with `Retry-After`.

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::AppState;
use crate::error::Chain;
use crate::ingest::{self, Doc, MAX_BULK_BYTES, Outcome, Refused};

const INPUT: &str = "otlp";
/// Seconds an exporter is asked to wait before retrying a refused request.
const RETRY_AFTER_SECONDS: &str = "1";

pub async fn logs(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let started = Instant::now();
    let metrics = &state.metrics.ingest;
    metrics.received(INPUT, body.len());
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/json"));
    let Some(inlet) = state.inlet.clone() else {
        return refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "this server does not take logs",
        );
    };
    let decoded = match crate::decode::body(&body, MAX_BULK_BYTES) {
        Ok(decoded) => decoded,
        Err(crate::decode::BodyError::TooLarge { cap }) => {
            return refuse(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("at most {cap} bytes once decompressed"),
            );
        }
        Err(err) => return refuse(StatusCode::BAD_REQUEST, &Chain(&err).to_string()),
    };
    let bytes = decoded.len();
    let records = match ingest::otlp::parse(&decoded, json) {
        Ok(records) => records,
        Err(err) => return refuse(StatusCode::BAD_REQUEST, &Chain(&err).to_string()),
    };
    let docs: Vec<Doc> = records.into_iter().map(Doc::without_id).collect();
    let count = docs.len();
    let outcomes = match inlet.send(docs, bytes).await {
        Ok(outcomes) => outcomes,
        Err(refused @ Refused::Busy) => {
            metrics.throttle(INPUT);
            return refuse(StatusCode::TOO_MANY_REQUESTS, &refused.to_string());
        }
        Err(refused @ Refused::Stopped) => {
            return refuse(StatusCode::SERVICE_UNAVAILABLE, &refused.to_string());
        }
    };
    metrics
        .bulk_seconds
        .observe(started.elapsed().as_secs_f64());
    let failed = outcomes.contains(&Outcome::Failed);
    let outcome = if failed { "failed" } else { "created" };
    metrics.count(INPUT, outcome, count);
    if failed {
        return refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "the index could not commit; retry",
        );
    }
    // An empty ExportLogsServiceResponse: no partial success to report.
    let (content_type, body): (&str, &[u8]) = if json {
        ("application/json", b"{}")
    } else {
        ("application/x-protobuf", b"")
    };
    ([(header::CONTENT_TYPE, content_type)], body.to_vec()).into_response()
}

/// A refusal: OTLP/HTTP exporters retry 429 and 503 (after `Retry-After`), not 400.
fn refuse(status: StatusCode, message: &str) -> Response {
    let mut response = (status, message.to_owned()).into_response();
    if matches!(
        status,
        StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
    ) {
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from_static(RETRY_AFTER_SECONDS),
        );
    }
    response
}
