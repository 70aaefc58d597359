//! OTLP/HTTP logs (`POST /v1/logs`), as OpenTelemetry SDKs and the collector send them:
//! protobuf or JSON `ExportLogsServiceRequest`s, with the message types of the maintained
//! `opentelemetry-proto` crate.
//!
//! Every log record is a whole record (it starts an event): its body is the text, and an
//! exception recorded with it (`exception.type`, `exception.message`,
//! `exception.stacktrace`, as `logger.exception()` records them) follows as its trace. The
//! stream is the service and host (and the instrumentation scope, the logger); the resource's
//! `service.name`, `service.version` (the release), `deployment.environment` and `host.name`
//! give the metadata.

use jiff::Timestamp;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use prost::Message;

use super::mapping::Shipped;
use crate::event::{FileMeta, Level};

/// Why an export request could not be read.
#[derive(Debug, thiserror::Error)]
pub enum OtlpError {
    #[error("not a protobuf ExportLogsServiceRequest")]
    Protobuf(#[from] prost::DecodeError),
    #[error("not a JSON ExportLogsServiceRequest")]
    Json(#[from] serde_json::Error),
}

/// The records of an export request, in order.
pub fn parse(body: &[u8], json: bool) -> Result<Vec<Shipped>, OtlpError> {
    let request = if json {
        serde_json::from_slice::<ExportLogsServiceRequest>(body)?
    } else {
        ExportLogsServiceRequest::decode(body)?
    };
    let mut shipped = Vec::new();
    for resource_logs in request.resource_logs {
        let attributes = resource_logs
            .resource
            .map(|r| r.attributes)
            .unwrap_or_default();
        let resource = |key: &str| attribute(&attributes, key);
        let meta = FileMeta {
            app: resource("service.name"),
            env: resource("deployment.environment.name")
                .or_else(|| resource("deployment.environment")),
            tag: resource("service.version"),
            host: resource("host.name"),
            ..FileMeta::default()
        };
        for scope_logs in resource_logs.scope_logs {
            let scope = scope_logs
                .scope
                .map(|s| s.name)
                .filter(|name| !name.is_empty());
            for record in scope_logs.log_records {
                shipped.push(record_of(record, &meta, scope.as_deref()));
            }
        }
    }
    Ok(shipped)
}

fn record_of(record: LogRecord, meta: &FileMeta, scope: Option<&str>) -> Shipped {
    let attr = |key: &str| attribute(&record.attributes, key);
    let mut text = record.body.as_ref().map(text_of).unwrap_or_default();
    if let Some(stack) = attr("exception.stacktrace") {
        text = join(&text, stack.trim_end_matches('\n'));
    } else if let Some(kind) = attr("exception.type") {
        // An exception without frames: its type line, as a runtime would print it.
        let message = attr("exception.message").unwrap_or_default();
        text = join(&text, &format!("{kind}: {message}"));
    }
    let nanos = match record.time_unix_nano {
        0 => record.observed_time_unix_nano,
        t => t,
    };
    let ts = (nanos > 0)
        .then(|| Timestamp::from_nanosecond(i128::from(nanos)).ok())
        .flatten();
    let mut fields: std::collections::BTreeMap<String, String> = record
        .attributes
        .iter()
        .filter(|kv| !kv.key.starts_with("exception.") && kv.key != "thread.name")
        .map(|kv| {
            (
                kv.key.clone(),
                kv.value.as_ref().map(text_of).unwrap_or_default(),
            )
        })
        .collect();
    for (name, id) in [("trace_id", &record.trace_id), ("span_id", &record.span_id)] {
        if !id.is_empty() {
            fields.insert(name.into(), id.iter().map(|b| format!("{b:02x}")).collect());
        }
    }
    let service = meta.app.as_deref().unwrap_or("-");
    let host = meta.host.as_deref().unwrap_or("-");
    Shipped {
        text,
        stream: format!("{service} {host} {}", scope.unwrap_or("-")),
        path: None,
        meta: meta.clone(),
        ts,
        level: level(&record.severity_text, record.severity_number),
        logger: scope.map(str::to_owned),
        thread: attr("thread.name"),
        whole: true,
        fields,
    }
}

fn join(text: &str, more: &str) -> String {
    if text.is_empty() {
        more.to_owned()
    } else {
        format!("{text}\n{more}")
    }
}

/// The level from the record's text, else from its number (OTLP's 1-24 scale: 1-4 TRACE,
/// 5-8 DEBUG, 9-12 INFO, 13-16 WARN, 17-20 ERROR, 21-24 FATAL).
fn level(text: &str, number: i32) -> Option<Level> {
    if let Some(level) = Level::from_word(&text.to_ascii_uppercase()) {
        return Some(level);
    }
    Some(match number {
        1..=4 => Level::Trace,
        5..=8 => Level::Debug,
        9..=12 => Level::Info,
        13..=16 => Level::Warn,
        17..=20 => Level::Error,
        21..=24 => Level::Fatal,
        _ => return None,
    })
}

fn attribute(attributes: &[KeyValue], key: &str) -> Option<String> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .map(text_of)
        .filter(|v| !v.is_empty())
}

/// A value as text: strings as they are, anything else as JSON-like text.
fn text_of(value: &AnyValue) -> String {
    match &value.value {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::DoubleValue(d)) => d.to_string(),
        Some(any_value::Value::BytesValue(bytes)) => String::from_utf8_lossy(bytes).into_owned(),
        Some(any_value::Value::ArrayValue(array)) => {
            let items: Vec<String> = array.values.iter().map(text_of).collect();
            format!("[{}]", items.join(", "))
        }
        Some(any_value::Value::KvlistValue(list)) => {
            let items: Vec<String> = list
                .values
                .iter()
                .map(|kv| {
                    format!(
                        "{}={}",
                        kv.key,
                        kv.value.as_ref().map(text_of).unwrap_or_default()
                    )
                })
                .collect();
            format!("{{{}}}", items.join(", "))
        }
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXPORT: &str = r#"{"resourceLogs":[{
        "resource":{"attributes":[
            {"key":"service.name","value":{"stringValue":"billing"}},
            {"key":"service.version","value":{"stringValue":"1.4.2"}},
            {"key":"deployment.environment","value":{"stringValue":"pro"}},
            {"key":"host.name","value":{"stringValue":"web01"}}]},
        "scopeLogs":[{"scope":{"name":"billing.payments"},"logRecords":[{
            "timeUnixNano":"1709287200123000000","severityNumber":17,"severityText":"ERROR",
            "traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174",
            "body":{"stringValue":"charge failed"},
            "attributes":[
              {"key":"code.function","value":{"stringValue":"charge"}},
              {"key":"exception.type","value":{"stringValue":"ValueError"}},
              {"key":"exception.stacktrace","value":{"stringValue":"Traceback (most recent call last):\n  File \"/srv/billing/payments.py\", line 3, in charge\n    raise ValueError(\"boom\")\nValueError: boom\n"}}]
        }]}]}]}"#;

    #[test]
    fn json_records_with_exceptions_and_resources() {
        let records = parse(EXPORT.as_bytes(), true).unwrap();
        assert_eq!(records.len(), 1);
        let r = &records[0];
        assert!(
            r.text
                .starts_with("charge failed\nTraceback (most recent call last):")
        );
        assert!(r.text.ends_with("ValueError: boom"));
        assert_eq!(r.level, Some(Level::Error));
        assert_eq!(r.ts.unwrap().to_string(), "2024-03-01T10:00:00.123Z");
        assert_eq!(r.meta.app.as_deref(), Some("billing"));
        assert_eq!(r.meta.tag.as_deref(), Some("1.4.2"));
        assert_eq!(r.meta.env.as_deref(), Some("pro"));
        assert_eq!(r.logger.as_deref(), Some("billing.payments"));
        assert!(r.whole);
        let fields: Vec<(&str, &str)> = r
            .fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            fields,
            [
                ("code.function", "charge"),
                ("span_id", "eee19b7ec3c1b174"),
                ("trace_id", "5b8efff798038103d269b633813fc60c")
            ]
        );
    }

    #[test]
    fn protobuf_reads_as_json_does() {
        let request: ExportLogsServiceRequest = serde_json::from_str(EXPORT).unwrap();
        let bytes = request.encode_to_vec();
        assert_eq!(
            parse(&bytes, false).unwrap(),
            parse(EXPORT.as_bytes(), true).unwrap()
        );
        assert!(parse(b"\xff\xff not protobuf", false).is_err());
        assert!(parse(b"{\"resourceLogs\": 3}", true).is_err());
    }
}
