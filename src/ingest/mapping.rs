//! What a shipped document says, whatever shipper sent it: its text, the stream it belongs
//! to, and the header fields the shipper already parsed.
//!
//! The shapes read: ECS (Filebeat, Elastic agents, logback/log4j ECS layouts),
//! logstash-logback-encoder, rsyslog's and syslog-ng's Elasticsearch templates, Fluent Bit
//! and Docker's JSON logs. A key is found nested (`{"log": {"level": ..}}`) or dotted
//! (`"log.level"`), as shippers write both.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde_json::{Map, Value};

use crate::event::{FileMeta, Level};

/// Keys of the message, in order of preference.
const TEXT_KEYS: &[&str] = &["message", "msg", "MESSAGE", "log", "event.original"];
/// Keys of a stack trace sent beside the message.
const STACK_KEYS: &[&str] = &["error.stack_trace", "stack_trace", "exception.stacktrace"];
const TIME_KEYS: &[&str] = &["@timestamp", "timestamp", "time", "ISODATE", "timereported"];
const LEVEL_KEYS: &[&str] = &[
    "log.level",
    "level",
    "severity",
    "PRIORITY",
    "severity_text",
];
const LOGGER_KEYS: &[&str] = &["log.logger", "logger_name", "logger"];
const THREAD_KEYS: &[&str] = &["process.thread.name", "thread_name", "thread"];
const HOST_KEYS: &[&str] = &[
    "host.name",
    "host.hostname",
    "hostname",
    "HOST",
    "fromhost",
    "host",
];
const PATH_KEYS: &[&str] = &["log.file.path", "file", "filename", "FILE_NAME", "path"];
const PROGRAM_KEYS: &[&str] = &[
    "programname",
    "PROGRAM",
    "process.name",
    "syslogtag",
    "app_name",
];
const SERVICE_KEYS: &[&str] = &["service.name", "kubernetes.container.name"];
const CONTAINER_KEYS: &[&str] = &["container.id", "container.name", "kubernetes.pod.name"];
const ENV_KEYS: &[&str] = &["service.environment", "deployment.environment"];
const TAG_KEYS: &[&str] = &["container.image.tag", "service.version"];

/// One shipped document, read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Shipped {
    /// The log text: one line, several, or a whole trace.
    pub text: String,
    /// Which stream's lines these are: documents of one stream are folded together.
    pub stream: String,
    /// The shipped file's path, when the shipper says (its name gives the metadata).
    pub path: Option<String>,
    /// What the document says of the service, for what the file name does not give.
    pub meta: FileMeta,
    pub ts: Option<Timestamp>,
    pub level: Option<Level>,
    pub logger: Option<String>,
    pub thread: Option<String>,
    /// The document is a whole log record (the shipper parsed it: a logger, a stack trace),
    /// so it starts an event even when its text has no header.
    pub whole: bool,
    /// Everything else the document holds, flattened to dotted keys: kept with its event.
    pub fields: BTreeMap<String, String>,
}

/// Reads `doc`; `None` when it holds no text at all.
pub fn read(doc: &Map<String, Value>) -> Option<Shipped> {
    let field = |keys: &[&str]| keys.iter().find_map(|k| string(doc, k));
    // A blank line is a line (a Go panic has some): the text may be empty, not missing.
    let mut text = TEXT_KEYS
        .iter()
        .find_map(|k| lookup(doc, k).and_then(Value::as_str))?
        .to_owned();
    let stack = field(STACK_KEYS);
    if let Some(stack) = &stack
        && !text.contains(stack.lines().next().unwrap_or_default())
    {
        text.push('\n');
        text.push_str(stack.trim_end_matches('\n'));
    }
    // Docker's JSON logs keep the line's newline.
    let text = text.strip_suffix('\n').unwrap_or(&text).to_owned();
    let host = field(HOST_KEYS);
    let path = field(PATH_KEYS);
    let program = field(PROGRAM_KEYS).map(|p| program_name(&p));
    let service = field(SERVICE_KEYS);
    let container = field(CONTAINER_KEYS);
    let logger = field(LOGGER_KEYS);
    let stream = stream_key(&host, &path, &program, &service, &container);
    Some(Shipped {
        text,
        stream,
        path,
        meta: FileMeta {
            app: service.clone(),
            env: field(ENV_KEYS),
            tag: field(TAG_KEYS),
            host,
            ..FileMeta::default()
        },
        ts: field(TIME_KEYS).and_then(|t| t.parse().ok()),
        level: field(LEVEL_KEYS).and_then(|l| Level::from_word(&l.to_ascii_uppercase())),
        whole: stack.is_some() || logger.is_some(),
        logger,
        thread: field(THREAD_KEYS),
        fields: others(doc),
    })
}

/// The keys read into the fields above; every other key is kept as it is.
const MAPPED: &[&[&str]] = &[
    TEXT_KEYS,
    STACK_KEYS,
    TIME_KEYS,
    LEVEL_KEYS,
    LOGGER_KEYS,
    THREAD_KEYS,
    HOST_KEYS,
    PATH_KEYS,
    PROGRAM_KEYS,
    SERVICE_KEYS,
    CONTAINER_KEYS,
    ENV_KEYS,
    TAG_KEYS,
];

/// The leaves of `doc` that no mapped key names, as dotted keys and text.
fn others(doc: &Map<String, Value>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    flatten("", doc, &mut out);
    out.retain(|key, _| !MAPPED.iter().any(|keys| keys.contains(&key.as_str())));
    out
}

fn flatten(prefix: &str, doc: &Map<String, Value>, out: &mut BTreeMap<String, String>) {
    for (key, value) in doc {
        let key = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match value {
            Value::Object(inner) => flatten(&key, inner, out),
            Value::String(s) => {
                out.insert(key, s.clone());
            }
            Value::Null => {}
            other => {
                out.insert(key, other.to_string());
            }
        }
    }
}

/// Host and file, else host and program, else service and container, else what there is.
fn stream_key(
    host: &Option<String>,
    path: &Option<String>,
    program: &Option<String>,
    service: &Option<String>,
    container: &Option<String>,
) -> String {
    let host = host.as_deref().unwrap_or("-");
    match (path, program, service) {
        (Some(path), _, _) => format!("{host} {path}"),
        (None, Some(program), _) => format!("{host} {program}"),
        (None, None, Some(service)) => {
            format!("{service} {}", container.as_deref().unwrap_or(host))
        }
        (None, None, None) => host.to_owned(),
    }
}

/// `app[123]:` (rsyslog's syslogtag) → `app`.
fn program_name(tag: &str) -> String {
    let tag = tag.trim_end_matches(':');
    tag.split('[').next().unwrap_or(tag).to_owned()
}

/// The string at `key`, nested or dotted; numbers and booleans as text, empty as none.
fn string(doc: &Map<String, Value>, key: &str) -> Option<String> {
    let value = lookup(doc, key)?;
    let text = match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => return None,
    };
    (!text.is_empty()).then_some(text)
}

fn lookup<'a>(doc: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    if let Some(value) = doc.get(key) {
        return Some(value);
    }
    let (head, rest) = key.split_once('.')?;
    match doc.get(head)? {
        Value::Object(inner) => lookup(inner, rest),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped(json: &str) -> Shipped {
        let doc: Map<String, Value> = serde_json::from_str(json).unwrap();
        read(&doc).unwrap()
    }

    #[test]
    fn ecs_nested_and_dotted_alike() {
        let nested = shipped(
            r#"{"@timestamp":"2024-03-01T10:00:00.123Z","message":"charge failed",
                "log":{"level":"error","logger":"c.a.Billing","file":{"path":"/logs/a.log"}},
                "host":{"name":"web01"},"service":{"name":"billing","environment":"pro"},
                "error":{"stack_trace":"java.lang.IllegalStateException: boom\n\tat a.B.c(B.java:1)"}}"#,
        );
        let dotted = shipped(
            r#"{"@timestamp":"2024-03-01T10:00:00.123Z","message":"charge failed",
                "log.level":"error","log.logger":"c.a.Billing","log.file.path":"/logs/a.log",
                "host.name":"web01","service.name":"billing","service.environment":"pro",
                "error.stack_trace":"java.lang.IllegalStateException: boom\n\tat a.B.c(B.java:1)"}"#,
        );
        assert_eq!(nested, dotted);
        assert_eq!(
            nested.text,
            "charge failed\njava.lang.IllegalStateException: boom\n\tat a.B.c(B.java:1)"
        );
        assert_eq!(nested.stream, "web01 /logs/a.log");
        assert_eq!(nested.level, Some(Level::Error));
        assert_eq!(nested.meta.app.as_deref(), Some("billing"));
        assert!(nested.whole);
        assert!(nested.fields.is_empty(), "{:?}", nested.fields);
        let extra = shipped(
            r#"{"message":"m","agent":{"type":"filebeat","version":"8.17.0"},"tags":["a","b"],
                "log":{"offset":42,"level":"info"},"facility":"local0"}"#,
        );
        let kept: Vec<(&str, &str)> = extra
            .fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            kept,
            [
                ("agent.type", "filebeat"),
                ("agent.version", "8.17.0"),
                ("facility", "local0"),
                ("log.offset", "42"),
                ("tags", r#"["a","b"]"#)
            ]
        );
    }

    #[test]
    fn rsyslog_syslog_ng_and_docker_lines() {
        let rsyslog = shipped(
            r#"{"timestamp":"2024-03-01T10:00:00Z","host":"web01","severity":"err",
                "syslogtag":"billing[42]:","programname":"billing","msg":"\tat a.B.c(B.java:1)"}"#,
        );
        assert_eq!(rsyslog.stream, "web01 billing");
        assert_eq!(rsyslog.level, Some(Level::Error));
        assert!(!rsyslog.whole, "a line of a stream, to be folded");
        let syslog_ng = shipped(r#"{"HOST":"db1","PROGRAM":"postgres","MESSAGE":"FATAL: x"}"#);
        assert_eq!(syslog_ng.stream, "db1 postgres");
        let docker =
            shipped(r#"{"log":"panic: boom\n","stream":"stderr","time":"2024-03-01T10:00:00Z"}"#);
        assert_eq!(docker.text, "panic: boom");
        assert!(docker.ts.is_some());
    }

    #[test]
    fn a_document_without_text_is_none_and_a_blank_line_is_a_line() {
        let doc: Map<String, Value> = serde_json::from_str(r#"{"level":"info"}"#).unwrap();
        assert!(read(&doc).is_none());
        assert_eq!(shipped(r#"{"message":""}"#).text, "");
    }
}
