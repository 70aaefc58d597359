//! Hardening finding 5: `/api/events/{id}/context` reads only the file the index read, and
//! only while it is still that file: not a link put in its place, not a FIFO (which hung the
//! request), not whatever a shipper claims as its path.

mod common;

use std::path::Path;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::Value;
use stackfold::serve::{AppState, WebAssets, router};
use tower::ServiceExt;

async fn get(state: &AppState, uri: &str) -> (StatusCode, Value) {
    let response = router(state.clone())
        .oneshot(Request::get(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// The id of the one event whose message is `message`.
async fn id_of(state: &AppState, message: &str) -> String {
    let quoted = format!("%22{}%22", message.replace(' ', "%20"));
    let (_, page) = get(state, &format!("/api/search?q={quoted}")).await;
    page["hits"][0]["id"].as_str().unwrap().to_owned()
}

fn index(data: &Path, logs: &Path) {
    common::stackfold(&[
        "index",
        "--data",
        data.to_str().unwrap(),
        logs.to_str().unwrap(),
    ]);
}

#[tokio::test]
async fn context_reads_only_the_indexed_file_while_it_is_that_file() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    let log = logs.join("app.log");
    std::fs::write(
        &log,
        "2024-03-01 10:00:00,000 INFO  [main] a.B - first line\n\
         2024-03-01 10:00:01,000 INFO  [main] a.B - second line\n",
    )
    .unwrap();
    let secret = dir.path().join("secret.txt");
    std::fs::write(&secret, "password=hunter2\n").unwrap();
    let data = dir.path().join("data");
    index(&data, &logs);
    let state = AppState::open(data, None, WebAssets::default()).unwrap();
    let id = id_of(&state, "second line").await;
    let uri = format!("/api/events/{id}/context?before=5&after=5");

    let (status, context) = get(&state, &uri).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(context["lines"].as_array().unwrap().len(), 2);

    // The log replaced by a link to another file: not followed.
    std::fs::remove_file(&log).unwrap();
    std::os::unix::fs::symlink(&secret, &log).unwrap();
    let (status, body) = get(&state, &uri).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!body.to_string().contains("hunter2"));

    // Replaced by a FIFO with no writer: refused at once instead of hanging.
    std::fs::remove_file(&log).unwrap();
    let made = std::process::Command::new("mkfifo")
        .arg(&log)
        .status()
        .unwrap();
    assert!(made.success());
    let answered = tokio::time::timeout(std::time::Duration::from_secs(5), get(&state, &uri)).await;
    assert_eq!(answered.expect("no hang").0, StatusCode::NOT_FOUND);

    // Replaced by another file with the same content but another inode: not the file read.
    std::fs::remove_file(&log).unwrap();
    std::fs::write(&log, std::fs::read(&secret).unwrap()).unwrap();
    let (status, _) = get(&state, &uri).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
