//! JSON lines: logstash-logback-encoder (`@timestamp`, `level`, `logger_name`, `thread_name`,
//! `message`, `stack_trace`), ECS (`log.level`, `error.stack_trace`), structlog/zap/slog
//! (`timestamp`/`time`/`ts`, `msg`, `logger`, `exception`).

use jiff::Timestamp;
use serde_json::{Map, Value};

use crate::event::Level;

/// The fields of one JSON log line.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonHeader {
    pub ts: Option<Timestamp>,
    pub level: Option<Level>,
    pub logger: Option<String>,
    pub thread: Option<String>,
    pub message: String,
    pub stack_trace: Option<String>,
    /// Docker's json-file driver's line (`{"log":"...\n","stream":"stderr","time":...}`):
    /// the stream and what the container wrote, for the header parser to read through.
    pub docker: Option<DockerLine>,
}

/// What a container wrote, as Docker's json-file logging driver keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct DockerLine {
    /// `stdout` or `stderr`.
    pub stream: String,
    /// The line without its newline.
    pub content: String,
}

const TS_KEYS: &[&str] = &["@timestamp", "timestamp", "time", "ts", "datetime"];
const LEVEL_KEYS: &[&str] = &["level", "log.level", "severity", "levelname", "lvl"];
const LOGGER_KEYS: &[&str] = &["logger_name", "logger", "log.logger", "name"];
const THREAD_KEYS: &[&str] = &["thread_name", "thread", "process.thread.name"];
const MESSAGE_KEYS: &[&str] = &["message", "msg", "event"];
const STACK_KEYS: &[&str] = &[
    "stack_trace",
    "error.stack_trace",
    "exception",
    "exc_info",
    "stacktrace",
];

/// Parses a line that is a JSON object; `None` for anything else.
pub fn parse_json(line: &str) -> Option<JsonHeader> {
    let map: Map<String, Value> = serde_json::from_str(line).ok()?;
    Some(JsonHeader {
        ts: lookup(&map, TS_KEYS).and_then(timestamp),
        level: lookup(&map, LEVEL_KEYS)
            .and_then(|v| v.as_str())
            .and_then(level),
        logger: lookup(&map, LOGGER_KEYS).and_then(text),
        thread: lookup(&map, THREAD_KEYS).and_then(text),
        message: lookup(&map, MESSAGE_KEYS)
            .and_then(text)
            .unwrap_or_default(),
        stack_trace: lookup(&map, STACK_KEYS).and_then(text),
        docker: docker(&map),
    })
}

/// The json-file driver's fields: a string `log` beside a string `stream`.
fn docker(map: &Map<String, Value>) -> Option<DockerLine> {
    let (Value::String(log), Value::String(stream)) = (map.get("log")?, map.get("stream")?) else {
        return None;
    };
    let content = log.strip_suffix('\n').unwrap_or(log);
    Some(DockerLine {
        stream: stream.clone(),
        content: content.strip_suffix('\r').unwrap_or(content).to_owned(),
    })
}

/// The first key present, as a flat key (`"log.level"`) or a nested path (`{"log":{"level"}}`).
fn lookup<'m>(map: &'m Map<String, Value>, keys: &[&str]) -> Option<&'m Value> {
    keys.iter().find_map(|key| {
        map.get(*key).or_else(|| {
            let (head, tail) = key.split_once('.')?;
            map.get(head)?.as_object()?.get(tail)
        })
    })
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

fn level(word: &str) -> Option<Level> {
    Level::from_word(&word.to_ascii_uppercase())
}

/// RFC 3339 text, or a number of seconds (with fraction) or milliseconds since the epoch.
fn timestamp(v: &Value) -> Option<Timestamp> {
    match v {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => {
            let f = n.as_f64()?;
            // Values past the year 2286 in seconds are milliseconds.
            let millis = if f.abs() > 1e10 { f } else { f * 1000.0 };
            Timestamp::from_millisecond(millis as i64).ok()
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logstash_logback_encoder() {
        let line = r#"{"@timestamp":"2024-03-01T10:00:00.123+01:00","@version":"1","message":"charge failed","logger_name":"com.acme.billing.OrderService","thread_name":"http-nio-8080-exec-1","level":"ERROR","level_value":40000,"stack_trace":"java.lang.IllegalStateException: boom\n\tat com.acme.billing.OrderService.charge(OrderService.java:42)\n"}"#;
        let h = parse_json(line).unwrap();
        assert_eq!(h.ts.unwrap().to_string(), "2024-03-01T09:00:00.123Z");
        assert_eq!(h.level, Some(Level::Error));
        assert_eq!(h.logger.as_deref(), Some("com.acme.billing.OrderService"));
        assert_eq!(h.thread.as_deref(), Some("http-nio-8080-exec-1"));
        assert_eq!(h.message, "charge failed");
        assert!(
            h.stack_trace
                .unwrap()
                .starts_with("java.lang.IllegalStateException: boom\n\tat ")
        );
    }

    #[test]
    fn ecs_and_epoch_forms() {
        let h = parse_json(r#"{"ts":1700000000.5,"log":{"level":"warn"},"msg":"slow"}"#).unwrap();
        assert_eq!(h.ts.unwrap().to_string(), "2023-11-14T22:13:20.5Z");
        assert_eq!(h.level, Some(Level::Warn));
        assert_eq!(h.message, "slow");
        let h = parse_json(r#"{"time":1700000000500,"log.level":"info","message":"ok"}"#).unwrap();
        assert_eq!(h.ts.unwrap().to_string(), "2023-11-14T22:13:20.5Z");
        assert_eq!(h.level, Some(Level::Info));
    }

    #[test]
    fn dockers_json_file_lines() {
        let h = parse_json(r#"{"log":"x\r\n","stream":"stderr","time":"2024-03-01T10:00:00Z"}"#);
        let docker = h.unwrap().docker.unwrap();
        assert_eq!(
            (docker.stream.as_str(), docker.content.as_str()),
            ("stderr", "x")
        );
        // ECS's `log` is an object, and a `log` without a `stream` is a field like any other.
        for line in [
            r#"{"log":{"level":"warn"},"stream":"stderr","msg":"slow"}"#,
            r#"{"log":"x","msg":"slow"}"#,
        ] {
            assert_eq!(parse_json(line).unwrap().docker, None, "{line}");
        }
    }

    #[test]
    fn not_json() {
        assert_eq!(parse_json("{not json"), None);
        assert_eq!(parse_json("[1,2]"), None);
    }
}
