//! The endpoints shippers use (Elasticsearch's `_bulk`, OTLP's `/v1/logs`), through
//! `router(state).oneshot(...)`, with a real folding thread on a fresh index.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use base64::Engine;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::*;
use crate::config::ConfigFile;
use crate::ingest::{Inlet, StreamSettings};
use crate::query::Filters;

const PATH: &str = "/logs/weberror_billing_pro_1.4.2_web01_20240301.log";

/// A server over a new index under `data`, taking shipped logs; streams close a quiet event
/// after `idle`.
fn server(data: &Path, idle: Duration) -> (AppState, crate::ingest::Folding) {
    let pipeline = Arc::new(
        ConfigFile::default()
            .settings(Some("UTC"), 1, 2020)
            .unwrap(),
    );
    let settings = StreamSettings {
        idle,
        poll: Duration::from_millis(20),
    };
    let (inlet, thread) = Inlet::start(data, pipeline, settings).unwrap();
    let state = AppState::open(data.to_path_buf(), None, WebAssets::default()).unwrap();
    (state.with_inlet(inlet), thread)
}

/// One `index` action per line, each line a document of the file `PATH` on host web01,
/// with ids `{prefix}{n}` and two fields stackfold does not map (`log.offset`, `agent.type`).
fn line_per_doc(lines: &[&str], prefix: &str) -> String {
    let mut body = String::new();
    for (n, line) in lines.iter().enumerate() {
        let action = json!({"index": {"_index": "logs", "_id": format!("{prefix}{n}")}});
        let doc = json!({"message": line, "host": {"name": "web01"},
            "log": {"file": {"path": PATH}, "offset": n}, "agent": {"type": "filebeat"}});
        body.push_str(&format!("{action}\n{doc}\n"));
    }
    body
}

/// Posts `body` without looking at the answer's headers (a refusal before routing has none
/// of Elasticsearch's).
async fn post_unchecked(state: &AppState, uri: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let request = Request::post(uri).body(Body::from(body)).unwrap();
    let response = router(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, serde_json::from_slice(&bytes).unwrap())
}

async fn post(state: &AppState, uri: &str, body: Vec<u8>, gzip: bool) -> (StatusCode, Value) {
    let mut request = Request::post(uri).header(header::CONTENT_TYPE, "application/x-ndjson");
    if gzip {
        request = request.header(header::CONTENT_ENCODING, "gzip");
    }
    let response = router(state.clone())
        .oneshot(request.body(Body::from(body)).unwrap())
        .await
        .unwrap();
    let status = response.status();
    assert_eq!(
        response.headers().get("x-elastic-product").unwrap(),
        "Elasticsearch"
    );
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, serde_json::from_slice(&bytes).unwrap())
}

/// Waits until `query` matches `n` events.
async fn wait_for(state: &AppState, query: &str, n: usize) -> Vec<crate::query::StoredEvent> {
    for _ in 0..200 {
        state.reader.reload().unwrap();
        let found = state
            .reader
            .search(query, &Filters::default(), 100)
            .unwrap();
        if found.len() == n {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{query:?} never matched {n} events");
}

const TRACE: [&str; 5] = [
    "2024-03-01 10:00:00,123 ERROR [main] c.a.billing.Billing - charge failed",
    "java.lang.IllegalStateException: card declined",
    "\tat com.acme.billing.Billing.charge(Billing.java:42)",
    "\tat java.base/java.lang.Thread.run(Thread.java:833)",
    "2024-03-01 10:00:01,000 INFO  [main] c.a.billing.Billing - next",
];

#[tokio::test]
async fn a_trace_sent_line_by_line_across_requests_is_one_event() {
    let dir = tempfile::tempdir().unwrap();
    let (state, _thread) = server(dir.path(), Duration::from_millis(200));
    let (status, first) = post(
        &state,
        "/_bulk",
        line_per_doc(&TRACE[..2], "a").into(),
        false,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(first["errors"], false);
    assert_eq!(first["items"][1]["index"]["status"], 201);
    let compressed = gzip(line_per_doc(&TRACE[2..], "b").as_bytes());
    let (_, second) = post(&state, "/logs/_bulk", compressed, true).await;
    assert_eq!(second["errors"], false);
    let events = wait_for(&state, "*", 2).await;
    let trace = events.iter().find(|e| e.event.exception.is_some()).unwrap();
    assert_eq!(trace.event.text, TRACE[..4].join("\n"));
    assert_eq!(trace.event.line, 1);
    assert_eq!(
        trace.event.meta.app.as_deref(),
        Some("billing"),
        "from the shipped file name"
    );
    let exception = trace.event.exception.as_ref().unwrap();
    assert_eq!(exception.root_type, "java.lang.IllegalStateException");
    assert_eq!(trace.event.source, PATH);
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

#[tokio::test]
async fn known_ids_are_not_taken_twice_and_bad_items_fail_alone() {
    let dir = tempfile::tempdir().unwrap();
    let (state, _thread) = server(dir.path(), Duration::from_millis(100));
    let (_, first) = post(&state, "/_bulk", line_per_doc(&TRACE, "x").into(), false).await;
    assert_eq!(first["errors"], false);
    wait_for(&state, "*", 2).await;
    // A retried request (its answer lost): nothing new; `create` of a known id conflicts.
    let (_, again) = post(&state, "/_bulk", line_per_doc(&TRACE, "x").into(), false).await;
    assert_eq!(again["items"][0]["index"]["status"], 200);
    assert_eq!(again["items"][0]["index"]["result"], "noop");
    let body = concat!(
        "{\"create\":{\"_id\":\"x1\"}}\n{\"message\":\"again\"}\n",
        "{\"index\":{}}\nnot json\n",
        "{\"delete\":{\"_id\":\"x1\"}}\n",
        "{\"index\":{}}\n{\"message\":\"\\u00ff valid\",\"host\":\"h\"}\n",
    );
    let mut bytes = body.as_bytes().to_vec();
    bytes.extend_from_slice(b"{\"index\":{}}\n{\"message\":\"bad \xff utf-8\"}\n");
    let (status, mixed) = post(&state, "/_bulk", bytes, false).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(mixed["errors"], true);
    let statuses: Vec<u64> = mixed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            item.as_object().unwrap().values().next().unwrap()["status"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(statuses, [409, 400, 400, 201, 400]);
    assert_eq!(
        mixed["items"][0]["create"]["error"]["type"],
        "version_conflict_engine_exception"
    );
    let events = wait_for(&state, "*", 3).await;
    assert_eq!(
        events
            .iter()
            .filter(|e| e.event.message.contains("valid"))
            .count(),
        1
    );
    let response = router(state.clone())
        .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let metrics = String::from_utf8_lossy(&bytes);
    for (outcome, n) in [("created", 6), ("noop", 5), ("conflict", 1), ("refused", 3)] {
        let line = format!(
            "stackfold_ingest_documents_total{{input=\"elasticsearch\",outcome=\"{outcome}\"}} {n}"
        );
        assert!(metrics.contains(&line), "{line} in\n{metrics}");
    }
    assert!(
        metrics.contains("stackfold_ingest_bulk_seconds_count 3"),
        "{metrics}"
    );
}

#[tokio::test]
async fn oversized_and_bomb_bodies_are_refused_whole() {
    let dir = tempfile::tempdir().unwrap();
    let (state, _thread) = server(dir.path(), Duration::from_millis(100));
    // 200 MB of zeros compress to 200 KB: a bomb.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![b'0'; 1 << 20];
    for _ in 0..200 {
        gz.write_all(&zeros).unwrap();
    }
    let bomb = gz.finish().unwrap();
    let (status, answer) = post(&state, "/_bulk", bomb, true).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(answer["error"]["type"], "content_too_long_exception");
    let (status, _) = post(&state, "/_bulk", b"\x1f\x8b\x08\x00garbage".to_vec(), true).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // 200 MB as sent: refused once 100 MiB were read.
    let huge = line_per_doc(&TRACE[..1], "h")
        .repeat(200 << 20 >> 8)
        .into_bytes();
    assert!(huge.len() > 200 << 20);
    let (status, answer) = post_unchecked(&state, "/_bulk", huge).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        answer["error"].as_str().unwrap().contains("104857600"),
        "{answer}"
    );
    // The server goes on.
    let (status, ok) = post(
        &state,
        "/_bulk",
        line_per_doc(&TRACE[..1], "k").into(),
        false,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ok["errors"], false);
}

#[tokio::test]
async fn open_lines_survive_a_restart_and_the_trace_stays_whole() {
    let dir = tempfile::tempdir().unwrap();
    let (state, thread) = server(dir.path(), Duration::from_secs(60));
    let (_, first) = post(
        &state,
        "/_bulk",
        line_per_doc(&TRACE[..3], "r").into(),
        false,
    )
    .await;
    assert_eq!(first["errors"], false);
    // Acknowledged, not yet an event: the lines wait in the commit's checkpoints.
    drop(state);
    thread.join().unwrap().unwrap();
    let (state, _thread) = server(dir.path(), Duration::from_millis(100));
    let (_, retried) = post(
        &state,
        "/_bulk",
        line_per_doc(&TRACE[..3], "r").into(),
        false,
    )
    .await;
    assert_eq!(
        retried["items"][2]["index"]["result"], "noop",
        "open lines know their ids"
    );
    let (_, rest) = post(
        &state,
        "/_bulk",
        line_per_doc(&TRACE[3..], "s").into(),
        false,
    )
    .await;
    assert_eq!(rest["errors"], false);
    let events = wait_for(&state, "*", 2).await;
    let trace = events.iter().find(|e| e.event.exception.is_some()).unwrap();
    assert_eq!(trace.event.text, TRACE[..4].join("\n"));
    // The fields of the event's first document were kept through the restart.
    assert_eq!(
        trace.event.fields.get("agent.type").map(String::as_str),
        Some("filebeat")
    );
    assert_eq!(
        trace.event.fields.get("log.offset").map(String::as_str),
        Some("0")
    );
}

#[tokio::test]
async fn clients_get_the_info_document_and_browsers_the_ui() {
    let dir = tempfile::tempdir().unwrap();
    let state = AppState::open(dir.path().to_path_buf(), None, WebAssets::default()).unwrap();
    let get = |accept: &'static str| {
        let state = state.clone();
        async move {
            router(state)
                .oneshot(
                    Request::get("/")
                        .header(header::ACCEPT, accept)
                        .body(Body::empty())
                        .unwrap(),
                )
                .await
                .unwrap()
        }
    };
    let info = get("application/vnd.elasticsearch+json; compatible-with=9").await;
    assert_eq!(
        info.headers().get("x-elastic-product").unwrap(),
        "Elasticsearch"
    );
    let bytes = axum::body::to_bytes(info.into_body(), usize::MAX)
        .await
        .unwrap();
    let info: Value = serde_json::from_slice(&bytes).unwrap();
    assert!(
        info["version"]["number"]
            .as_str()
            .unwrap()
            .starts_with("8.")
    );
    assert_eq!(info["tagline"], "You Know, for Search");
    let page = get("text/html,application/xhtml+xml").await;
    let bytes = axum::body::to_bytes(page.into_body(), usize::MAX)
        .await
        .unwrap();
    assert!(String::from_utf8_lossy(&bytes).contains("<html"));
    // Without a folding thread (another process writes the index), bulks are refused whole.
    let (status, refused) = post(
        &state,
        "/_bulk",
        line_per_doc(&TRACE[..1], "n").into(),
        false,
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        refused["error"]["reason"]
            .as_str()
            .unwrap()
            .contains("does not take logs")
    );
}

#[tokio::test]
async fn shippers_send_with_their_credentials_and_cannot_read() {
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str, user: &str, password: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, htpasswd_line(user, password).unwrap() + "\n").unwrap();
        Users::load(&path).unwrap()
    };
    let readers = file("readers", "ops", "correct horse");
    let shippers = file("shippers", "edge", "battery staple");
    let data = dir.path().join("data");
    let (state, _thread) = server(&data, Duration::from_millis(100));
    let mut state = state.with_ingest_users(shippers);
    state.users = Some(Arc::new(readers));
    let encode = |text: &str| base64::engine::general_purpose::STANDARD.encode(text);
    let basic_edge = format!("Basic {}", encode("edge:battery staple"));
    let api_key_edge = format!("ApiKey {}", encode("edge:battery staple"));
    let basic_ops = format!("Basic {}", encode("ops:correct horse"));
    let body = line_per_doc(&TRACE[..1], "auth");
    let send = |method: &str, uri: &str, auth: Option<&str>, accept: &str| {
        let mut request = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::ACCEPT, accept);
        if let Some(auth) = auth {
            request = request.header(header::AUTHORIZATION, auth);
        }
        let body = if method == "POST" {
            body.clone()
        } else {
            String::new()
        };
        router(state.clone()).oneshot(request.body(Body::from(body)).unwrap())
    };
    let json = "application/json";
    let status = |r: axum::response::Response| r.status();
    assert_eq!(
        status(
            send("POST", "/_bulk", Some(&basic_edge), json)
                .await
                .unwrap()
        ),
        StatusCode::OK
    );
    assert_eq!(
        status(
            send("POST", "/_bulk", Some(&api_key_edge), json)
                .await
                .unwrap()
        ),
        StatusCode::OK
    );
    assert_eq!(
        status(send("GET", "/", Some(&api_key_edge), json).await.unwrap()),
        StatusCode::OK
    );
    for (method, uri, auth, accept) in [
        ("POST", "/_bulk", Some(basic_ops.as_str()), json),
        ("POST", "/_bulk", None, json),
        ("GET", "/api/search", Some(basic_edge.as_str()), json),
    ] {
        let answer = send(method, uri, auth, accept).await.unwrap();
        assert_eq!(
            answer.status(),
            StatusCode::UNAUTHORIZED,
            "{method} {uri} {auth:?}"
        );
    }
    assert_eq!(
        status(
            send("GET", "/api/search", Some(&basic_ops), json)
                .await
                .unwrap()
        ),
        StatusCode::OK
    );
    assert_eq!(
        status(
            send("GET", "/", Some(&basic_ops), "text/html")
                .await
                .unwrap()
        ),
        StatusCode::OK
    );
}

#[tokio::test]
async fn otlp_json_records_are_answered_once_committed_and_bad_ones_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (state, _thread) = server(dir.path(), Duration::from_millis(100));
    let export = json!({"resourceLogs": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "billing"}}]},
        "scopeLogs": [{"scope": {"name": "billing.payments"}, "logRecords": [{
            "timeUnixNano": "1709287200123000000", "severityText": "ERROR",
            "body": {"stringValue": "charge failed"},
            "attributes": [{"key": "exception.stacktrace", "value": {"stringValue":
                "Traceback (most recent call last):\n  File \"/srv/billing/payments.py\", line 3, in charge\n    raise ValueError(\"boom\")\nValueError: boom"}}]
        }]}]
    }]});
    let send = |content_type: &'static str, body: Vec<u8>| {
        let state = state.clone();
        async move {
            let request = Request::post("/v1/logs")
                .header(header::CONTENT_TYPE, content_type)
                .body(Body::from(body))
                .unwrap();
            let response = router(state).oneshot(request).await.unwrap();
            let status = response.status();
            let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .unwrap();
            (status, bytes)
        }
    };
    let (status, body) = send("application/json", export.to_string().into_bytes()).await;
    assert_eq!((status, &body[..]), (StatusCode::OK, &b"{}"[..]));
    let events = wait_for(&state, "*", 1).await;
    let exception = events[0].event.exception.as_ref().unwrap();
    assert_eq!(exception.root_type, "ValueError");
    assert_eq!(events[0].event.meta.app.as_deref(), Some("billing"));
    let (status, _) = send("application/x-protobuf", b"\xff\xfe not protobuf".to_vec()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = send("application/json", b"{\"resourceLogs\": 7}".to_vec()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn syslog_datagrams_fold_like_lines_of_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let (state, _thread) = server(dir.path(), Duration::from_millis(200));
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    let parser = crate::parse::HeaderParser::new(jiff::tz::TimeZone::UTC, 2024, None);
    let to = crate::ingest::syslog::Delivery {
        inlet: state.inlet.clone().unwrap(),
        metrics: Arc::clone(&state.metrics.ingest),
    };
    tokio::spawn(crate::ingest::syslog::serve_udp(socket, to, parser));
    let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    for line in [
        "<11>1 2024-03-01T10:00:00Z web01 billing 42 - - charge failed",
        "<11>1 2024-03-01T10:00:00Z web01 billing 42 - - java.lang.IllegalStateException: boom",
        "<11>1 2024-03-01T10:00:00Z web01 billing 42 - - \tat com.acme.billing.Billing.charge(Billing.java:42)",
        "<14>1 2024-03-01T10:00:05Z web01 billing 42 - - next",
    ] {
        sender.send_to(line.as_bytes(), addr).unwrap();
    }
    let events = wait_for(&state, "*", 2).await;
    let trace = events.iter().find(|e| e.event.exception.is_some()).unwrap();
    assert_eq!(trace.event.lines, 3);
    assert_eq!(
        trace.event.exception.as_ref().unwrap().root_type,
        "java.lang.IllegalStateException"
    );
    let documents =
        state
            .metrics
            .ingest
            .documents
            .get_or_create(&crate::ingest::metrics::DocumentLabel {
                input: "syslog",
                outcome: "created",
            });
    assert_eq!(documents.get(), 4);
}
