//! The fuzzing harness of the parsers, on stable Rust: property tests (proptest) that feed
//! every parser that reads outside input arbitrary bytes, and real inputs with random
//! damage spliced in, and check it neither panics nor loses what the contract promises.
//! CI runs each property for a bounded number of cases (`PROPTEST_CASES` raises it:
//! `PROPTEST_CASES=100000 cargo nextest run --test fuzz` for a long local run).
//!
//! Targets: line headers and timestamps, folding (lines in, every line in one event out),
//! request bodies (decompression with a cap), Elasticsearch `_bulk` bodies (edges' events
//! included), OTLP bodies (protobuf and JSON), syslog messages, and query text against a
//! real index.

mod common;

use std::sync::{Arc, OnceLock};

use proptest::prelude::*;
use stackfold::decode::{LineReader, Resume};
use stackfold::event::FileInfo;
use stackfold::parse::HeaderParser;
use stackfold::query::{Filters, Reader};

fn config(default_cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(default_cases);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Real lines of every kind the parsers know.
const SAMPLES: &[&str] = &[
    "2024-03-01 10:00:00,123 ERROR [main] com.acme.Billing - charge failed id=42",
    "java.lang.IllegalStateException: order 42",
    "\tat com.acme.Billing.charge(Billing.java:42)",
    "Caused by: java.io.IOException: disk full",
    "\t... 12 more",
    "Traceback (most recent call last):",
    "  File \"/srv/app.py\", line 7, in <module>",
    "ValueError: bad value",
    "panic: runtime error: index out of range [3] with length 2",
    "goroutine 1 [running]:",
    "main.main()\n\t/src/main.go:12 +0x1d",
    "<34>1 2024-03-01T10:00:00.000Z web01 app 123 ID47 - boom",
    "<13>Mar  1 10:00:00 web01 app[123]: boom",
    "09-26 18:18:30.823  2817  2835 E AndroidRuntime: FATAL EXCEPTION: main",
    "{\"@timestamp\":\"2024-03-01T10:00:00Z\",\"level\":\"ERROR\",\"message\":\"boom\",\"stack_trace\":\"x\"}",
    "[2024-03-01 10:00:00,000: ERROR/MainProcess] Task failed",
    "01-Mar-2024 10:00:00.000 SEVERE [main] org.apache.Catalina.start boom",
    "Mar 01, 2024 10:00:00 AM com.acme.App main",
    "10:00:00.000 [main] WARN  com.acme.App - late",
];

/// A real sample with random bytes spliced in somewhere.
fn damaged_line() -> impl Strategy<Value = String> {
    (
        prop::sample::select(SAMPLES),
        any::<prop::sample::Index>(),
        prop::collection::vec(any::<u8>(), 0..12),
    )
        .prop_map(|(sample, at, noise)| {
            let mut bytes = sample.as_bytes().to_vec();
            let at = at.index(bytes.len() + 1);
            bytes.splice(at..at, noise);
            String::from_utf8_lossy(&bytes).into_owned()
        })
}

fn any_line() -> impl Strategy<Value = String> {
    prop_oneof![damaged_line(), any::<String>(), "[ -~\t]{0,200}"]
}

proptest! {
    #![proptest_config(config(3000))]

    #[test]
    fn headers_parse_anything_without_panicking(line in any_line()) {
        let mut parser = HeaderParser::new(jiff::tz::TimeZone::UTC, 2024, None);
        if let Some(header) = parser.parse(&line) {
            prop_assert!(stackfold::parse::FORMATS.contains(&header.format));
        }
    }
}

proptest! {
    #![proptest_config(config(600))]

    /// Folding any bytes: no panic, and every line ends in exactly one event.
    #[test]
    fn folding_any_lines_keeps_each_line_once(lines in prop::collection::vec(any_line(), 0..60)) {
        let text: String = lines.iter().map(|l| format!("{}\n", l.replace(['\n', '\r'], " "))).collect();
        let settings = common::settings();
        let info = Arc::new(FileInfo { path: "fuzz.log".into(), meta: Default::default(), date_ts: None });
        let folder = settings.line_folder(&info);
        let mut reader = LineReader::from_bytes(text.clone().into_bytes());
        let mut counted = 0u64;
        let mut next_line = 1u64;
        stackfold::read::fold_lines(&mut reader, folder, Resume::default(), |event| {
            assert_eq!(event.line, next_line, "events follow each other line by line");
            next_line += u64::from(event.lines);
            counted += u64::from(event.lines);
            true
        });
        prop_assert_eq!(counted, lines.len() as u64);
    }

    /// A body of any bytes, compressed or not: no panic, never more than the cap.
    #[test]
    fn request_bodies_decode_within_their_cap(body in prop_oneof![
        prop::collection::vec(any::<u8>(), 0..2000),
        prop::collection::vec(any::<u8>(), 0..2000).prop_map(|b| gzip_damaged(&b)),
    ]) {
        if let Ok(decoded) = stackfold::decode::body(&body, 4096) {
            prop_assert!(decoded.len() <= 4096);
        }
    }

    /// A `_bulk` body of real actions and sources with damage: no panic, one item per action.
    #[test]
    fn bulk_bodies_parse_item_by_item(lines in prop::collection::vec(bulk_line(), 0..30)) {
        let body = lines.join("\n");
        let items = stackfold::ingest::es::parse(body.as_bytes());
        prop_assert!(items.len() <= lines.len());
    }

    #[test]
    fn otlp_bodies_are_refused_cleanly(body in prop::collection::vec(any::<u8>(), 0..1000), json in any::<bool>()) {
        let _ = stackfold::ingest::otlp::parse(&body, json);
    }

    #[test]
    fn syslog_messages_of_any_bytes_are_kept(message in prop_oneof![
        damaged_line().prop_map(String::into_bytes),
        prop::collection::vec(any::<u8>(), 0..300),
    ]) {
        let mut parser = HeaderParser::new(jiff::tz::TimeZone::UTC, 2024, None);
        let shipped = stackfold::ingest::syslog::shipped(&message, "10.0.0.1", &mut parser);
        prop_assert!(!shipped.stream.is_empty());
    }

    /// Query text of any shape against a real index: a result or a 400-style error, never a
    /// panic or a stack overflow.
    #[test]
    fn queries_of_any_shape_answer_or_fail_cleanly(text in query_text()) {
        let _ = reader().count(&text, &Filters::default());
    }
}

fn gzip_damaged(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(bytes).unwrap();
    let mut out = gz.finish().unwrap();
    if out.len() > 20 {
        let at = bytes.len() % (out.len() - 10) + 10;
        out[at] ^= 0x55;
    }
    out
}

fn bulk_line() -> impl Strategy<Value = String> {
    let edge = r#"{"@timestamp":"2024-03-01T10:00:00Z","ts":"2024-03-01T10:00:00Z","level":"ERROR","logger":null,"thread":null,"message":"boom","source":"/l/a.log","line":1,"meta":{"logtype":null,"app":null,"env":null,"tag":null,"host":"web01","date":null},"offset":0,"lines":1,"format":"iso","text":"2024-03-01 10:00:00 ERROR boom","stackfold":{"edge":"web01","stream":"s1","end_offset":31}}"#;
    let real = prop::sample::select(vec![
        r#"{"create":{"_id":"web01:s1:0"}}"#.to_owned(),
        r#"{"index":{"_index":"logs"}}"#.to_owned(),
        r#"{"message":"2024-03-01 10:00:00 ERROR x - boom","host":{"name":"web01"},"log":{"file":{"path":"/l/a.log"}}}"#.to_owned(),
        r#"{"delete":{"_id":"a"}}"#.to_owned(),
        edge.to_owned(),
    ]);
    prop_oneof![
        real.clone(),
        (real, any::<prop::sample::Index>(), "[ -~]{0,6}").prop_map(|(line, at, noise)| {
            let mut chars: Vec<char> = line.chars().collect();
            let at = at.index(chars.len() + 1);
            chars.splice(at..at, noise.chars());
            chars.into_iter().collect()
        }),
        any::<String>(),
    ]
}

fn query_text() -> impl Strategy<Value = String> {
    prop_oneof![
        r#"[a-zA-Z0-9 ()":*~^+\-!.\[\]{}\\/]{0,80}"#,
        prop::collection::vec(
            prop::sample::select(vec![
                "(",
                ")",
                "NOT ",
                "AND ",
                "OR ",
                "-",
                "+",
                "\"",
                "*",
                "level:",
                "app:",
                "boom ",
                "Null*Exception ",
                "[1 TO 5] ",
                "~2 ",
                "^3 ",
                "\\",
            ]),
            0..400,
        )
        .prop_map(|parts| parts.concat()),
        any::<String>(),
    ]
}

/// An index of the Java fixtures, built once for every query case.
fn reader() -> &'static Reader {
    static READER: OnceLock<(tempfile::TempDir, Reader)> = OnceLock::new();
    let (_, reader) = READER.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let java = common::fixtures().join("java");
        common::stackfold(&[
            "index",
            "--data",
            data.to_str().unwrap(),
            java.to_str().unwrap(),
        ]);
        let reader = Reader::open(&data).unwrap();
        (dir, reader)
    });
    reader
}
