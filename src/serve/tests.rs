//! The API through `router(state).oneshot(...)`: every endpoint, its errors, and auth.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use base64::Engine;
use serde_json::Value;
use tower::ServiceExt;

use super::*;
use crate::config::ConfigFile;
use crate::index::EventWriter;
use crate::pipeline::collect_file;

/// An index of the fixtures, built once for all tests (kept for the process's life).
fn data_dir() -> &'static Path {
    static DATA: OnceLock<PathBuf> = OnceLock::new();
    DATA.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap().keep();
        let data = dir.join("data");
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
        let mut paths = Vec::new();
        for dir in ["java", "python", "go"] {
            for entry in std::fs::read_dir(fixtures.join(dir)).unwrap() {
                paths.push(entry.unwrap().path().canonicalize().unwrap());
            }
        }
        crate::index::index_files_for_test(&data, &paths);
        data
    })
}

fn state(users: Option<Users>) -> AppState {
    AppState::open(data_dir().to_path_buf(), users, WebAssets::default()).unwrap()
}

async fn call(state: AppState, uri: &str, auth: Option<&str>) -> (StatusCode, Vec<u8>) {
    let mut request = Request::get(uri);
    if let Some(value) = auth {
        request = request.header(header::AUTHORIZATION, value);
    }
    let response = router(state)
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap()
        .to_vec();
    (status, body)
}

async fn json(uri: &str) -> (StatusCode, Value) {
    let (status, body) = call(state(None), uri, None).await;
    let value = serde_json::from_slice(&body)
        .unwrap_or_else(|_| panic!("{uri}: not JSON: {}", String::from_utf8_lossy(&body)));
    (status, value)
}

#[tokio::test]
async fn a_server_on_a_new_directory_starts_empty() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("new");
    let state = AppState::open(data.clone(), None, WebAssets::default()).unwrap();
    let (status, body) = call(state.clone(), "/api/search?q=*", None).await;
    assert_eq!(status, StatusCode::OK);
    let page: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(page["total"], 0);
    let (status, body) = call(state, "/api/exceptions", None).await;
    assert_eq!(status, StatusCode::OK);
    let list: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(list["groups"].as_array().unwrap().len(), 0);
    assert!(data.join("index").join("meta.json").exists());
}

/// Hardening finding 1: a query nested 800 deep, or 10,000 NOTs, overflowed the stack of
/// the thread parsing it and aborted the whole server. Now every query endpoint refuses it.
#[tokio::test]
async fn queries_too_deep_for_the_parser_are_refused_not_fatal() {
    let deep = format!("{}x{}", "(".repeat(800), ")".repeat(800));
    let nots = format!("{}x", "NOT ".repeat(10_000));
    let minus = format!("{}x", "-".repeat(10_000));
    for q in [&deep, &nots, &minus] {
        let q = q
            .replace(' ', "%20")
            .replace('(', "%28")
            .replace(')', "%29");
        for endpoint in ["search", "histogram", "fields", "exceptions", "live"] {
            let (status, body) = json(&format!("/api/{endpoint}?q={q}")).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{endpoint}");
            assert!(
                body["error"].as_str().unwrap().contains("at most"),
                "{body}"
            );
        }
    }
    // Ordinary nesting and negation still work.
    let (status, _) = json("/api/search?q=%28a%20OR%20%28b%20AND%20NOT%20c%29%29%20NOTE").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn search_pages_through_everything_once() {
    let (status, first) = json("/api/search?q=*&limit=7").await;
    assert_eq!(status, StatusCode::OK);
    let total = first["total"].as_u64().unwrap() as usize;
    assert!(total > 100);
    let mut seen = std::collections::HashSet::new();
    let mut page = first;
    loop {
        for hit in page["hits"].as_array().unwrap() {
            assert!(
                seen.insert(hit["id"].as_str().unwrap().to_owned()),
                "duplicate {}",
                hit["id"]
            );
        }
        let Some(cursor) = page["cursor"].as_str() else {
            break;
        };
        page = json(&format!("/api/search?q=*&limit=50&cursor={cursor}"))
            .await
            .1;
    }
    assert_eq!(seen.len(), total);
}

#[tokio::test]
async fn search_highlights_and_filters() {
    let (status, page) =
        json("/api/search?q=PaymentClient&app=billing&level=error,warn&limit=3").await;
    assert_eq!(status, StatusCode::OK);
    let hits = page["hits"].as_array().unwrap();
    assert_eq!(hits.len(), 3);
    assert_eq!(page["total"], 4);
    for hit in hits {
        assert!(
            hit["snippet"].as_str().unwrap().contains("<b>"),
            "{}",
            hit["snippet"]
        );
        assert_eq!(hit["meta"]["app"], "billing");
    }
}

#[tokio::test]
async fn bad_requests_are_400_with_a_message() {
    for uri in [
        "/api/search?q=foo%20AND%20(",
        "/api/search?limit=0",
        "/api/search?from=yesterday",
        "/api/search?colour=blue",
        "/api/search?cursor=garbage",
        "/api/histogram?interval=-5",
        "/api/exceptions?sort=sideways",
        "/api/exceptions/not-a-fingerprint",
        "/api/patterns?sort=sideways",
        "/api/patterns?limit=0",
        "/api/patterns/0123",
        "/api/patterns/0123456789abcdef?limit=0",
        "/api/patterns/0123456789abcdef?limit=10001",
        "/api/events/xyz",
        "/api/events/0123456789abcdef/context?before=100000",
    ] {
        let (status, body) = json(uri).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {body}");
        assert!(
            body["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{uri}: {body}"
        );
    }
    let (_, body) = json("/api/search?q=foo%20AND%20(").await;
    assert_eq!(body["position"], 9);
}

#[tokio::test]
async fn missing_things_are_404() {
    for uri in [
        "/api/exceptions/0123456789abcdef0123456789abcdef",
        "/api/patterns/0123456789abcdef",
        "/api/events/0123456789abcdef",
        "/api/nothing",
    ] {
        let (status, body) = json(uri).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}: {body}");
    }
}

#[tokio::test]
async fn histogram_fields_and_exceptions_agree() {
    let (_, all) = json("/api/search?limit=1").await;
    let (_, histogram) = json("/api/histogram?from=2024-03-01&to=2024-03-03").await;
    let bucketed: u64 = histogram["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b[1].as_u64().unwrap())
        .sum();
    let (_, in_range) = json("/api/search?from=2024-03-01&to=2024-03-03&limit=1").await;
    assert_eq!(bucketed, in_range["total"].as_u64().unwrap());
    assert!(all["total"].as_u64().unwrap() > bucketed);

    let (_, fields) = json("/api/fields?app=billing").await;
    let apps = fields["fields"]["app"].as_array().unwrap();
    assert_eq!(apps.len(), 1);
    assert_eq!(apps[0]["value"], "billing");

    let (status, list) = json("/api/exceptions?sort=last_seen&limit=5").await;
    assert_eq!(status, StatusCode::OK);
    let groups = list["groups"].as_array().unwrap();
    assert!(!groups.is_empty() && groups.len() <= 5);
    let last: Vec<&str> = groups
        .iter()
        .filter_map(|g| g["last_seen"].as_str())
        .collect();
    assert!(last.windows(2).all(|w| w[0] >= w[1]), "{last:?}");
    for key in [
        "fingerprint",
        "count",
        "first_seen",
        "last_seen",
        "root_type",
        "template",
        "first_tag",
        "trend",
    ] {
        assert!(groups[0].get(key).is_some(), "missing {key}");
    }
    let trend: u64 = groups[0]["trend"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(trend, groups[0]["count"].as_u64().unwrap());
}

/// The pattern list adds up to the events without an exception, each pattern's trend to
/// its count, and a pattern's page and `pattern:` query find exactly its events.
#[tokio::test]
async fn patterns_add_up_and_lead_to_their_events() {
    let (status, list) = json("/api/patterns?limit=1000").await;
    assert_eq!(status, StatusCode::OK);
    let patterns = list["patterns"].as_array().unwrap();
    let total: u64 = patterns.iter().map(|p| p["count"].as_u64().unwrap()).sum();
    let (_, all) = json("/api/search?limit=1").await;
    let (_, exceptions) = json("/api/search?limit=1&exceptions=true").await;
    let without_trace = all["total"].as_u64().unwrap() - exceptions["total"].as_u64().unwrap();
    assert_eq!(total, without_trace);
    let counts: Vec<u64> = patterns
        .iter()
        .map(|p| p["count"].as_u64().unwrap())
        .collect();
    assert!(counts.windows(2).all(|w| w[0] >= w[1]), "{counts:?}");
    let top = &patterns[0];
    for key in [
        "id",
        "template",
        "count",
        "first_seen",
        "last_seen",
        "levels",
        "apps",
        "envs",
        "hosts",
        "tags",
        "example",
        "trend",
    ] {
        assert!(top.get(key).is_some(), "missing {key}: {top}");
    }
    let trend: u64 = top["trend"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(trend, top["count"].as_u64().unwrap());
    let levels: u64 = top["levels"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(levels, top["count"].as_u64().unwrap());

    let id = top["id"].as_str().unwrap();
    let (status, detail) = json(&format!("/api/patterns/{id}?limit=3")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(detail["count"], top["count"]);
    assert_eq!(detail["template"], top["template"]);
    let samples = detail["samples"].as_array().unwrap();
    assert_eq!(samples.len() as u64, top["count"].as_u64().unwrap().min(3));
    assert!(
        samples.iter().all(|e| e["pattern"]["id"] == id),
        "{samples:?}"
    );
    let (_, by_query) = json(&format!("/api/search?q=pattern:{id}&limit=1")).await;
    let (_, by_filter) = json(&format!("/api/search?pattern={id}&limit=1")).await;
    assert_eq!(by_query["total"], top["count"]);
    assert_eq!(by_filter["total"], top["count"]);

    let (_, errors) = json("/api/patterns?level=ERROR,FATAL&limit=1000").await;
    let errors = errors["patterns"].as_array().unwrap();
    assert!(!errors.is_empty() && errors.len() < patterns.len());
    for p in errors {
        let levels = p["levels"].as_object().unwrap();
        assert!(levels.keys().all(|l| l == "ERROR" || l == "FATAL"), "{p}");
    }
}

#[tokio::test]
async fn one_group_its_events_and_their_context() {
    let (_, list) = json("/api/exceptions?app=billing").await;
    let group = &list["groups"][0];
    let fp = group["fingerprint"].as_str().unwrap();
    let (status, detail) = json(&format!("/api/exceptions/{fp}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(detail["count"], group["count"]);
    let frames = detail["latest"]["exception"]["chain"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|e| e["frames"].as_array().unwrap().clone());
    assert!(
        frames.clone().any(|f| f["in_app"] == true) && frames.clone().any(|f| f["in_app"] == false)
    );
    assert!(!detail["explain"].as_array().unwrap().is_empty());
    let id = detail["samples"][0]["id"].as_str().unwrap();
    let (status, event) = json(&format!("/api/events/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(event["exception"]["fingerprint"], fp);
    let (status, ctx) = json(&format!("/api/events/{id}/context?before=2&after=2")).await;
    assert_eq!(status, StatusCode::OK);
    let lines = ctx["lines"].as_array().unwrap();
    let in_event = lines.iter().filter(|l| l["in_event"] == true).count() as u64;
    assert_eq!(in_event, event["lines"].as_u64().unwrap());
    assert_eq!(
        lines[0]["number"].as_u64().unwrap() + 2,
        event["line"].as_u64().unwrap()
    );
}

#[tokio::test]
async fn health_metrics_openapi_and_ui() {
    let (status, body) = call(state(None), "/healthz", None).await;
    assert_eq!((status, body.as_slice()), (StatusCode::OK, &b"ok\n"[..]));
    let (status, body) = call(state(None), "/metrics", None).await;
    let text = String::from_utf8(body).unwrap();
    assert_eq!(status, StatusCode::OK);
    assert!(
        text.contains("stackfold_events ") && text.contains("stackfold_commit_age_seconds"),
        "{text}"
    );
    let (status, spec) = json("/api/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    assert!(spec["paths"]["/api/search"].is_object());
    assert!(spec["paths"]["/api/live"].is_object());
    for (uri, needle) in [
        // `/` is the UI for browsers (ingest_tests: clients without `Accept: text/html` get
        // Elasticsearch's info document there).
        ("/index.html", "<title>stackfold</title>"),
        ("/app.js", "viewSearch"),
        ("/style.css", ".trace"),
    ] {
        let (status, body) = call(state(None), uri, None).await;
        assert_eq!(status, StatusCode::OK, "{uri}");
        assert!(String::from_utf8_lossy(&body).contains(needle), "{uri}");
    }
}

#[tokio::test]
async fn with_auth_every_route_but_healthz_needs_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users");
    std::fs::write(&file, htpasswd_line("ops", "correct horse").unwrap() + "\n").unwrap();
    let users = Arc::new(Users::load(&file).unwrap());
    let with_users = || AppState {
        users: Some(Arc::clone(&users)),
        ..state(None)
    };
    let basic = |user: &str, password: &str| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
        )
    };
    let good = basic("ops", "correct horse");
    let routes = [
        "/",
        "/app.js",
        "/api/search",
        "/api/histogram",
        "/api/fields",
        "/api/exceptions",
        "/api/exceptions/0123456789abcdef0123456789abcdef",
        "/api/patterns",
        "/api/patterns/0123456789abcdef",
        "/api/events/0123456789abcdef",
        "/api/events/0123456789abcdef/context",
        "/api/openapi.json",
        "/metrics",
        "/api/nothing",
    ];
    for uri in routes {
        for auth in [
            None,
            Some(basic("ops", "wrong")),
            Some(basic("nobody", "correct horse")),
            Some("Bearer x".to_owned()),
        ] {
            let (status, _) = call(with_users(), uri, auth.as_deref()).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{uri} with {auth:?}");
        }
        let (status, _) = call(with_users(), uri, Some(&good)).await;
        assert_ne!(
            status,
            StatusCode::UNAUTHORIZED,
            "{uri} with good credentials"
        );
    }
    let (status, _) = call(with_users(), "/healthz", None).await;
    assert_eq!(status, StatusCode::OK);
    let response = router(with_users())
        .oneshot(
            Request::post("/api/search")
                .body(Body::from(vec![b'x'; 1000]))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.headers().get(header::WWW_AUTHENTICATE).is_some());
}

#[tokio::test]
async fn bodies_are_read_before_any_answer() {
    let post = |len: usize| {
        Request::post("/api/search")
            .body(Body::from(vec![b'x'; len]))
            .unwrap()
    };
    let response = router(state(None)).oneshot(post(1000)).await.unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    let response = router(state(None))
        .oneshot(post(MAX_BODY_BYTES + 1))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let error: Value = serde_json::from_slice(&body).unwrap();
    assert!(error["error"].as_str().unwrap().contains("limited"));
}

#[tokio::test]
async fn live_streams_only_matching_events_committed_after_it_started() {
    use http_body_util::BodyExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (index, fields) = crate::index::open_or_create(&data).unwrap();
    let mut writer = EventWriter::open(&index, fields, 32 << 20, 1).unwrap();
    let log = dir.path().join("app.log");
    let line = |n: u32, level: &str| {
        format!("2024-03-01 10:00:0{n},000 {level} [main] com.acme.App - order {n}\n")
    };
    let add = |writer: &mut EventWriter, text: String| {
        std::fs::write(&log, text).unwrap();
        let settings = ConfigFile::default()
            .settings(Some("UTC"), 1, 2020)
            .unwrap();
        for event in collect_file(log.clone(), &settings).0 {
            writer
                .add(&format!("{}#{}", log.display(), event.offset), event)
                .unwrap();
        }
        writer.commit().unwrap();
    };
    add(&mut writer, line(1, "ERROR"));
    let state = AppState::open(data, None, WebAssets::default()).unwrap();
    let (status, body) = call(state.clone(), "/api/live?q=level:(", None).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "{}",
        String::from_utf8_lossy(&body)
    );

    let response = router(state.clone())
        .oneshot(
            Request::get("/api/live?level=ERROR".to_owned())
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "text/event-stream"
    );
    let mut body = response.into_body();
    add(&mut writer, line(2, "INFO "));
    add(&mut writer, line(3, "ERROR"));
    state.reader.reload().unwrap();
    let frame = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        loop {
            let frame = body.frame().await.unwrap().unwrap();
            if let Ok(data) = frame.into_data() {
                let text = String::from_utf8(data.to_vec()).unwrap();
                if text.starts_with("event:") {
                    return text;
                }
            }
        }
    })
    .await
    .expect("an event within 5 s");
    assert!(frame.starts_with("event: event\n"), "{frame}");
    let json: Value =
        serde_json::from_str(frame.lines().nth(1).unwrap().trim_start_matches("data: ")).unwrap();
    assert_eq!(
        json["message"], "order 3",
        "not order 1 (before) nor order 2 (INFO)"
    );
}

#[test]
fn searching_by_time_windows_gives_the_same_events_and_pages() {
    let whole = Reader::open(data_dir()).unwrap();
    // First windows far too narrow: most searches take several.
    let windowed = Reader::open(data_dir()).unwrap().with_windows(0, 0.001);
    let one_day = crate::query::Filters {
        from: Some("2024-03-01T00:00:00Z".parse().unwrap()),
        to: Some("2024-03-02T00:00:00Z".parse().unwrap()),
        ..Default::default()
    };
    let ids = |events: Vec<crate::query::StoredEvent>| -> Vec<String> {
        events.into_iter().map(|e| e.id).collect()
    };
    for (q, filters) in [
        ("", crate::query::Filters::default()),
        ("Exception", Default::default()),
        ("\"connection refused\"", Default::default()),
        ("", one_day.clone()),
        ("level:ERROR", one_day),
    ] {
        for limit in [1, 7, 50, 1000] {
            let a = ids(whole.search(q, &filters, limit).unwrap());
            let b = ids(windowed.search(q, &filters, limit).unwrap());
            assert_eq!(a, b, "{q:?} limit {limit}");
        }
        let mut pages = (Vec::new(), Vec::new());
        for (reader, out) in [(&whole, &mut pages.0), (&windowed, &mut pages.1)] {
            let mut cursor = None;
            loop {
                let page = reader
                    .search_page(q, &filters, 13, cursor.as_deref())
                    .unwrap();
                out.extend(ids(page.hits.into_iter().map(|h| h.event).collect()));
                match page.cursor {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
        }
        assert_eq!(pages.0, pages.1, "pages of {q:?}");
        assert!(!pages.0.is_empty() || q.contains("refused"));
    }
}

/// Hardening finding 13: the OpenAPI description says what the server does: ids and
/// fingerprints have their patterns, `interval` a minimum, `limit` its cap (which the group
/// list now enforces too), and the routes behind credentials document their 401.
#[tokio::test]
async fn the_openapi_description_matches_the_server() {
    let (_, spec) = json("/api/openapi.json").await;
    let param = |path: &str, name: &str| -> Value {
        spec["paths"][path]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .cloned()
            .unwrap_or(Value::Null)
    };
    assert_eq!(
        param("/api/exceptions/{fingerprint}", "fingerprint")["schema"]["pattern"],
        "^[0-9a-fA-F]{32}$"
    );
    assert_eq!(
        param("/api/events/{id}", "id")["schema"]["pattern"],
        "^[0-9a-fA-F]{16}$"
    );
    assert_eq!(param("/api/histogram", "interval")["schema"]["minimum"], 1);
    let limit_cap = spec["components"]["parameters"]["limit"]["schema"]["maximum"]
        .as_u64()
        .unwrap();
    let (status, _) = json(&format!("/api/exceptions?limit={}", limit_cap + 1)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = json(&format!("/api/exceptions?limit={limit_cap}")).await;
    assert_eq!(status, StatusCode::OK);
    for (path, operations) in spec["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            let secured = operation["security"] != serde_json::json!([]);
            if secured {
                assert!(
                    operation["responses"]["401"].is_object(),
                    "{method} {path} documents no 401"
                );
            }
        }
    }
}

/// Hardening (schemathesis): the times the description's pattern admits are the times the
/// server takes, and the others are refused, so a client generated from the description
/// neither sends what is refused nor is refused what it was told to send.
#[test]
fn the_time_pattern_of_the_description_is_what_the_server_takes() {
    let spec: Value = serde_json::from_str(include_str!("openapi.json")).unwrap();
    let pattern = spec["components"]["parameters"]["from"]["schema"]["pattern"]
        .as_str()
        .unwrap();
    let pattern = regex::Regex::new(pattern).unwrap();
    let now = jiff::Timestamp::now();
    for text in [
        "now",
        "-1h",
        "now-7d",
        "-99999w",
        " 2024-03-01 ",
        "2024-02-28",
        "2024-03-01T10:00:00Z",
        "2024-03-01T10:00:00.123456789+13:59",
        "0001-01-01T00:00:00-13:00",
        "2024-03-01T10:00Z",
        "2024-03-01T10Z",
        "",
    ] {
        assert!(pattern.is_match(text), "{text:?} is in the description");
        let taken = text.trim().is_empty() || crate::query::time::parse_time(text, now).is_ok();
        assert!(taken, "{text:?} is taken");
    }
    for text in ["yesterday", "-1y", "1h", "2024-3-1", "2024-03-01T", "%\""] {
        assert!(
            !pattern.is_match(text),
            "{text:?} is not in the description"
        );
        assert!(
            crate::query::time::parse_time(text, now).is_err(),
            "{text:?} is refused"
        );
    }
}

/// Hardening (schemathesis): requests the description allows are answered. An interval too
/// fine for the range is widened rather than refused; an empty cursor is no cursor; and the
/// description asks for credentials only where the server does.
#[tokio::test]
async fn requests_the_description_allows_are_answered() {
    let (status, histogram) = json("/api/histogram?interval=1&from=2000-01-01&to=2030-01-01").await;
    assert_eq!(status, StatusCode::OK, "{histogram}");
    let interval = histogram["interval_seconds"].as_i64().unwrap();
    let buckets = histogram["buckets"].as_array().unwrap().len();
    assert!(
        interval > 1 && buckets <= 1201,
        "{interval} s, {buckets} buckets"
    );
    let (status, page) = json("/api/search?q=&cursor=&limit=1").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    // Times far beyond tantivy's range, and intervals overflowing microseconds, panicked.
    let (status, groups) = json("/api/exceptions?limit=5&from=8890-12-13").await;
    assert_eq!(status, StatusCode::OK, "{groups}");
    let (status, answer) = json("/api/histogram?interval=9223372036854").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    // A forged cursor asked for 10^12 hits at once and aborted the server.
    for cursor in ["n_999999999999", "t_9223372036854775807_1", "n_-1"] {
        let (status, answer) = json(&format!("/api/search?cursor={cursor}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{cursor}: {answer}");
    }
    let (_, spec) = json("/api/openapi.json").await;
    assert!(
        spec.get("security").is_none(),
        "no credentials asked without a users file"
    );
}

/// Hardening finding 10, the memory after it: a large query that outlived the time limit gave
/// its turn back while it still ran, so the next one started beside it; fifty clients made
/// fourteen run at once, and the server kept 670 MB. The turn now ends with the work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_past_its_time_limit_keeps_its_turn_until_it_ends() {
    use std::time::{Duration, Instant};
    let mut state = state(None);
    state.query_timeout = Duration::from_millis(100);
    let started = Instant::now();
    let first = api::run_query(&state, api::Lane::Heavy, move |_| {
        std::thread::sleep(Duration::from_millis(400));
        Ok(started.elapsed())
    })
    .await;
    assert!(matches!(first, Err(ApiError::Timeout)), "{first:?}");
    // The next large query waits for the first's end (and its own time limit ends first).
    let second = api::run_query(&state, api::Lane::Heavy, move |_| Ok(started.elapsed())).await;
    assert!(matches!(second, Err(ApiError::Timeout)), "{second:?}");
    tokio::time::sleep(Duration::from_millis(400)).await;
    let third = api::run_query(&state, api::Lane::Heavy, move |_| Ok(started.elapsed())).await;
    assert!(third.is_ok(), "the lane is free again once the first ended");
}

/// Hardening finding 10: fifty clients asking 10,000 hits each made a one-hit query wait
/// 12-15 s in the one queue. Large pages now take turns among themselves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_query_does_not_wait_behind_large_ones() {
    let state = state(None);
    let order = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut heavy = Vec::new();
    for i in 0..12 {
        let (state, order) = (state.clone(), Arc::clone(&order));
        heavy.push(tokio::spawn(async move {
            let (status, _) = call(state, "/api/search?q=*&limit=10000", None).await;
            assert_eq!(status, StatusCode::OK);
            order.lock().unwrap().push(format!("large {i}"));
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    let (status, _) = call(state.clone(), "/api/search?q=*&limit=1", None).await;
    assert_eq!(status, StatusCode::OK);
    order.lock().unwrap().push("small".into());
    for task in heavy {
        task.await.unwrap();
    }
    let order = order.lock().unwrap();
    let rank = order.iter().position(|o| o == "small").unwrap();
    assert!(
        rank <= 3,
        "the small query finished after {rank} large ones: {order:?}"
    );
}

/// A data directory of its own (triage changes would move other tests' groups): one fixture.
fn own_data() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/java/weberror_billing_pro_1.4.2_web01_20240301.log");
    crate::index::index_files_for_test(dir.path(), &[path]);
    dir
}

async fn send(
    state: AppState,
    method: &str,
    uri: impl AsRef<str>,
    body: &str,
    auth: Option<&str>,
) -> (StatusCode, Value) {
    let uri = uri.as_ref();
    let mut request = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(value) = auth {
        request = request.header(header::AUTHORIZATION, value);
    }
    let response = router(state)
        .oneshot(request.body(Body::from(body.to_owned())).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| panic!("{uri}: not JSON: {}", String::from_utf8_lossy(&bytes)));
    (status, value)
}

#[tokio::test]
async fn resolved_groups_leave_the_default_list_and_the_change_names_its_user() {
    let dir = own_data();
    let file = dir.path().join("users");
    std::fs::write(&file, htpasswd_line("ops", "correct horse").unwrap() + "\n").unwrap();
    let state = AppState::open(
        dir.path().to_path_buf(),
        Some(Users::load(&file).unwrap()),
        WebAssets::default(),
    )
    .unwrap();
    let auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("ops:correct horse")
    );
    let auth = Some(auth.as_str());
    let get = |uri: String| send(state.clone(), "GET", uri, "", auth);
    let (status, list) = get("/api/exceptions".to_owned()).await;
    assert_eq!(status, StatusCode::OK);
    let groups = list["groups"].as_array().unwrap().clone();
    assert!(groups.len() >= 2, "{list}");
    assert!(groups.iter().all(|g| g["status"] == "unresolved"));
    let fp = groups[0]["fingerprint"].as_str().unwrap();

    let uri = format!("/api/exceptions/{fp}/status");
    let (status, record) = send(
        state.clone(),
        "POST",
        &uri,
        r#"{"status": "resolved", "in_release": "1.4.3"}"#,
        auth,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{record}");
    assert_eq!(record["by"], "ops");
    assert_eq!(record["in_release"], "1.4.3");

    let fps = |list: &Value| -> Vec<String> {
        list["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["fingerprint"].as_str().unwrap().to_owned())
            .collect()
    };
    let (_, unresolved) = get("/api/exceptions?limit=1".to_owned()).await;
    assert_eq!(unresolved["groups"].as_array().unwrap().len(), 1);
    assert!(!fps(&unresolved).contains(&fp.to_owned()));
    let (_, resolved) = get("/api/exceptions?status=resolved".to_owned()).await;
    assert_eq!(fps(&resolved), [fp]);
    assert_eq!(resolved["groups"][0]["status"], "resolved");
    let (_, all) = get("/api/exceptions?status=all".to_owned()).await;
    assert_eq!(fps(&all).len(), groups.len());
    let (_, detail) = get(format!("/api/exceptions/{fp}")).await;
    assert_eq!(detail["status"], "resolved");
    let (_, history) = get(format!("/api/exceptions/{fp}/history")).await;
    assert_eq!(history["changes"][0]["status"], "resolved");
    assert_eq!(history["changes"][0]["by"], "ops");
    let (status, alerts) = get("/api/alerts".to_owned()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(alerts["alerts"], serde_json::json!([]));

    // Mistakes are 4xx with a message.
    for (uri, body, want) in [
        (
            uri.as_str(),
            r#"{"status": "done"}"#,
            StatusCode::BAD_REQUEST,
        ),
        (
            uri.as_str(),
            r#"{"status": "ignored", "in_release": "1"}"#,
            StatusCode::BAD_REQUEST,
        ),
        (uri.as_str(), "not json", StatusCode::BAD_REQUEST),
        (
            "/api/exceptions/00000000000000000000000000000000/status",
            r#"{"status": "resolved"}"#,
            StatusCode::NOT_FOUND,
        ),
        (
            "/api/exceptions/xyz/status",
            r#"{"status": "resolved"}"#,
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let (status, answer) = send(state.clone(), "POST", uri, body, auth).await;
        assert_eq!(status, want, "{uri} {body}: {answer}");
        assert!(answer["error"].is_string(), "{answer}");
    }
    let (status, _) = get("/api/exceptions?status=fixed".to_owned()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Without credentials, nobody changes anything.
    let (status, _) = send(state.clone(), "POST", &uri, r#"{"status": "reopen"}"#, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_resolved_pattern_leaves_the_default_list_and_keeps_its_history() {
    let dir = own_data();
    let state = AppState::open(dir.path().to_path_buf(), None, WebAssets::default()).unwrap();
    let get = |uri: String| send(state.clone(), "GET", uri, "", None);
    let ids = |list: &Value| -> Vec<String> {
        list["patterns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let (status, list) = get("/api/patterns".to_owned()).await;
    assert_eq!(status, StatusCode::OK);
    let before = ids(&list);
    assert!(before.len() >= 2, "{list}");
    assert!(
        list["patterns"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["status"] == "unresolved")
    );
    let id = before[0].clone();

    let uri = format!("/api/patterns/{id}/status");
    let (status, record) = send(
        state.clone(),
        "POST",
        &uri,
        r#"{"status": "ignored"}"#,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{record}");
    assert_eq!(record["status"], "ignored");
    assert_eq!(record["by"], "anonymous");

    let (_, open) = get("/api/patterns".to_owned()).await;
    assert!(!ids(&open).contains(&id), "{open}");
    assert_eq!(ids(&open).len(), before.len() - 1);
    let (_, ignored) = get("/api/patterns?status=ignored".to_owned()).await;
    assert_eq!(ids(&ignored), std::slice::from_ref(&id));
    assert_eq!(ignored["patterns"][0]["status"], "ignored");
    let (_, all) = get("/api/patterns?status=all".to_owned()).await;
    assert_eq!(ids(&all).len(), before.len());
    let (_, detail) = get(format!("/api/patterns/{id}")).await;
    assert_eq!(detail["status"], "ignored");
    // The groups' listing is not touched by a pattern's record.
    let (_, groups) = get("/api/exceptions".to_owned()).await;
    assert!(!groups["groups"].as_array().unwrap().is_empty());
    let (_, history) = get(format!("/api/patterns/{id}/history")).await;
    assert_eq!(history["changes"][0]["status"], "ignored");

    for (uri, body, want) in [
        (
            uri.as_str(),
            r#"{"status": "done"}"#,
            StatusCode::BAD_REQUEST,
        ),
        (
            "/api/patterns/0000000000000000/status",
            r#"{"status": "resolved"}"#,
            StatusCode::NOT_FOUND,
        ),
        (
            "/api/patterns/xyz/status",
            r#"{"status": "resolved"}"#,
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let (status, answer) = send(state.clone(), "POST", uri, body, None).await;
        assert_eq!(status, want, "{uri} {body}: {answer}");
        assert!(answer["error"].is_string(), "{answer}");
    }
    let (status, _) = get("/api/patterns?status=fixed".to_owned()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = get("/api/patterns/xyz/history".to_owned()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn ingest_only_users_may_not_triage() {
    let dir = own_data();
    let readers = dir.path().join("readers");
    let shippers = dir.path().join("shippers");
    std::fs::write(
        &readers,
        htpasswd_line("ops", "correct horse").unwrap() + "\n",
    )
    .unwrap();
    std::fs::write(&shippers, htpasswd_line("edge", "s3cret").unwrap() + "\n").unwrap();
    let state = AppState::open(
        dir.path().to_path_buf(),
        Some(Users::load(&readers).unwrap()),
        WebAssets::default(),
    )
    .unwrap()
    .with_ingest_users(Users::load(&shippers).unwrap());
    let basic = |creds: &str| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(creds)
        )
    };
    let (_, list) = send(
        state.clone(),
        "GET",
        "/api/exceptions",
        "",
        Some(&basic("ops:correct horse")),
    )
    .await;
    let fp = list["groups"][0]["fingerprint"]
        .as_str()
        .unwrap()
        .to_owned();
    let uri = format!("/api/exceptions/{fp}/status");
    let body = r#"{"status": "resolved"}"#;
    let (status, _) = send(
        state.clone(),
        "POST",
        &uri,
        body,
        Some(&basic("edge:s3cret")),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, record) = send(
        state.clone(),
        "POST",
        &uri,
        body,
        Some(&basic("ops:correct horse")),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(record["by"], "ops");
}

/// Alerts filter on every group with new events at once: past a few values a filter is a
/// term set, and it must select what the union of terms selects.
#[test]
fn a_filter_of_many_fingerprints_selects_those_groups() {
    use crate::query::Filters;
    let reader = Reader::open(data_dir()).unwrap();
    let all = reader.groups("", &Filters::default()).unwrap();
    assert!(all.len() > 20, "{} groups", all.len());
    let mut wanted: Vec<String> = all.iter().take(18).map(|g| g.fingerprint.clone()).collect();
    wanted.extend((0..5).map(|n| format!("{n:032x}")));
    let filters = Filters {
        fingerprint: wanted,
        ..Filters::default()
    };
    let got = reader.groups("", &filters).unwrap();
    let mut got: Vec<&str> = got.iter().map(|g| g.fingerprint.as_str()).collect();
    let mut want: Vec<&str> = all
        .iter()
        .take(18)
        .map(|g| g.fingerprint.as_str())
        .collect();
    got.sort();
    want.sort();
    assert_eq!(got, want);
}

/// Issue 17: identical queries in flight at once run once, and every client gets the answer.
#[tokio::test]
async fn identical_concurrent_queries_run_once() {
    let state = state(None);
    let app = router(state.clone());
    let uri = "/api/exceptions?limit=50&q=IllegalStateException";
    let calls = (0..20).map(|_| {
        let app = app.clone();
        tokio::spawn(async move {
            let response = app
                .oneshot(Request::get(uri).body(Body::empty()).unwrap())
                .await
                .unwrap();
            let status = response.status();
            let body = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .unwrap();
            (status, body)
        })
    });
    let answers: Vec<_> = futures_util::future::join_all(calls)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert!(answers.iter().all(|(status, _)| *status == StatusCode::OK));
    assert!(answers.iter().all(|(_, body)| *body == answers[0].1));
    let (_, metrics) = call(state, "/metrics", None).await;
    let metrics = String::from_utf8(metrics).unwrap();
    let queries: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("stackfold_query_seconds_count "))
        .expect("the query count")
        .parse()
        .unwrap();
    assert!(
        queries <= 2.0,
        "{queries} queries for 20 identical requests"
    );
}

/// Issue 17: a shared query whose clients all went away still ends and leaves the table, so
/// the next identical request runs afresh (it used to join the half-done query and get its
/// expired time limit) and the server's state is not held after it.
#[tokio::test]
async fn a_query_whose_clients_went_away_still_ends() {
    let state = state(None);
    let app = router(state.clone());
    let uri = "/api/histogram?q=IllegalStateException";
    // Every turn taken: the query waits for one.
    let slots = state.queries.available_permits() as u32;
    let turns = Arc::clone(&state.queries)
        .acquire_many_owned(slots)
        .await
        .unwrap();
    let request = || Request::get(uri).body(Body::empty()).unwrap();
    let gave_up = tokio::time::timeout(
        std::time::Duration::from_millis(100),
        app.clone().oneshot(request()),
    )
    .await;
    assert!(gave_up.is_err(), "the query had no turn yet");
    assert_eq!(state.inflight.len(), 1);
    drop(turns);
    for _ in 0..100 {
        if state.inflight.len() == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(state.inflight.len(), 0, "the abandoned query never ended");
    let response = app.oneshot(request()).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

/// Warming computes the UI's first views before anyone asks: afterwards those requests are
/// answered from kept per-segment answers alone (nothing new is computed), and answer 200.
#[tokio::test]
async fn warming_computes_the_first_views_before_they_are_asked() {
    let state = state(None);
    assert_eq!(
        state.reader.cached_answers(),
        0,
        "a new server keeps nothing"
    );
    let api = api_routes(&state).with_state(state.clone());
    warm::warm(&api).await;
    let kept = state.reader.cached_answers();
    assert!(kept >= warm::FIRST_VIEWS.len(), "{kept} answers kept");
    for uri in warm::FIRST_VIEWS {
        let (status, body) = call(state.clone(), uri, None).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "{uri}: {}",
            String::from_utf8_lossy(&body)
        );
    }
    assert_eq!(
        state.reader.cached_answers(),
        kept,
        "the first views needed nothing warming had not computed"
    );
}
