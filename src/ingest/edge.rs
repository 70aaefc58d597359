//! Events folded on an edge (`stackfold ship`), as they travel in `_bulk` documents: the
//! event as `fold` writes it, `@timestamp` for Elasticsearch and Kibana, and a `stackfold`
//! object saying which edge and which of its files (a stream) it comes from.
//!
//! The central takes them as they are: they are not folded again. An edge ships each stream
//! in order, one batch at a time, and moves on only once a batch is acknowledged, so the
//! central keeps per stream the end offset of the last event it stored (in the checkpoints
//! of the commit that holds the events), and an event that ends at or before it is stored
//! already: it is answered as a conflict, as a `create` of a known `_id` is. That needs no
//! look-up per event, whatever the edge sends again after a crash, a timeout or a lost answer.

use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::Arc;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::event::{Event, EventRecord, FileInfo};
use crate::fold::GROUPING_VERSION;

/// The header a stackfold central puts on its Elasticsearch answers (its version): an edge
/// that sees it compresses with zstd, which costs it a fraction of gzip's time; to anything
/// else it sends gzip, which Elasticsearch and OpenSearch take.
pub const CENTRAL_HEADER: &str = "x-stackfold";

/// One event as an edge ships it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EdgeDoc<'a> {
    /// The event's time, where Elasticsearch and Kibana look for it.
    #[serde(
        rename = "@timestamp",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub timestamp: Option<Timestamp>,
    #[serde(flatten)]
    pub event: EventRecord<'a>,
    pub stackfold: EdgeMark<'a>,
}

/// Where an edge's event comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EdgeMark<'a> {
    /// The edge's name (`ship --host-name`).
    pub edge: Cow<'a, str>,
    /// The file's stream at that edge: a name the edge gave the file when it first read it.
    pub stream: Cow<'a, str>,
    /// Where the event ends in its file: the stream's position once the event is stored.
    pub end_offset: u64,
    /// The event's exception was made by the standard grouping of this grouping version: a
    /// central of the same version finds it again in the text and need not store it (see
    /// [`Exception::recomputable`](crate::event::Exception::recomputable)). Sent only when
    /// true; older centrals ignore it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub standard_grouping: bool,
}

impl<'a> EdgeDoc<'a> {
    /// The document for `event`, shipped by `edge` as part of `stream`.
    pub fn new(event: &'a Event, edge: &'a str, stream: &'a str) -> EdgeDoc<'a> {
        EdgeDoc {
            timestamp: event.ts,
            event: event.record(),
            stackfold: EdgeMark {
                edge: Cow::Borrowed(edge),
                stream: Cow::Borrowed(stream),
                end_offset: event.end_offset,
                standard_grouping: event.exception.as_ref().is_some_and(|x| x.recomputable),
            },
        }
    }
}

/// The `_id` of the event at `offset` of `stream` on `edge`: unique across edges and files,
/// and the same each time the event is sent again.
pub fn doc_id(edge: &str, stream: &str, offset: u64) -> String {
    format!("{edge}:{stream}:{offset}")
}

/// An edge's event, received.
#[derive(Debug, Clone)]
pub struct EdgeEvent {
    pub event: Event,
    /// The central's stream key: the edge and its stream.
    pub key: String,
}

/// Stream keys of edges' files live among the checkpoints' streams with this prefix.
pub const EDGE_PREFIX: &str = "edge:";

/// How long an edge stream's position is kept after its last event: an edge sends again only
/// what it has not seen acknowledged, which is minutes old, and a file it reads gets a new
/// stream; a week covers an edge that was down that long. The positions are written with
/// every commit, so those of finished files must go.
pub const FORGET_AFTER_SECS: i64 = 7 * 24 * 3600;

impl EdgeEvent {
    /// The event a document holds, or why it cannot be taken.
    pub fn from_doc(doc: EdgeDoc<'static>) -> Result<EdgeEvent, String> {
        let mark = doc.stackfold;
        let record = doc.event;
        if mark.edge.is_empty() || mark.stream.is_empty() {
            return Err("stackfold.edge and stackfold.stream must not be empty".into());
        }
        if mark.end_offset <= record.offset || record.lines == 0 {
            return Err(format!(
                "stackfold.end_offset {} must be past the event's offset {} and it must have lines",
                mark.end_offset, record.offset
            ));
        }
        let source = FileInfo {
            path: PathBuf::from(record.source.as_ref()),
            meta: record.meta.into_owned(),
            date_ts: None,
        };
        let event = Event {
            ts: record.ts,
            level: record.level,
            logger: record.logger.map(Cow::into_owned),
            thread: record.thread.map(Cow::into_owned),
            message: record.message.into_owned(),
            source: Arc::new(source),
            line: record.line,
            offset: record.offset,
            end_offset: mark.end_offset,
            lines: record.lines,
            text: record.text.into_owned(),
            format: crate::parse::format_name(&record.format),
            truncated: record.truncated,
            continued: record.continued,
            stack_trace: None,
            detail: None,
            exception: record.exception.map(|x| {
                let mut x = x.into_owned();
                x.recomputable = mark.standard_grouping && x.grouping_version == GROUPING_VERSION;
                x
            }),
            pattern: record.pattern.map(Cow::into_owned),
            fields: record.fields.into_owned(),
        };
        Ok(EdgeEvent {
            event,
            key: format!("{EDGE_PREFIX}{}/{}", mark.edge, mark.stream),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::FileMeta;

    fn event() -> Event {
        let source = FileInfo {
            path: PathBuf::from("/logs/app_billing_prod_1.2_web01_2024-03-01.log"),
            meta: FileMeta {
                app: Some("billing".into()),
                ..FileMeta::default()
            },
            date_ts: None,
        };
        Event {
            ts: Some("2024-03-01T10:00:00Z".parse().unwrap()),
            logger: Some("a.B".into()),
            source: Arc::new(source),
            line: 3,
            offset: 100,
            end_offset: 160,
            lines: 2,
            text: "2024-03-01 10:00:00 a.B boom\n\tat a.B.c(B.java:1)".into(),
            ..Event::sample("boom")
        }
    }

    #[test]
    fn an_event_travels_whole() {
        let sent = event();
        let json = serde_json::to_string(&EdgeDoc::new(&sent, "web01", "s1")).unwrap();
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["@timestamp"], "2024-03-01T10:00:00Z");
        assert_eq!(value["stackfold"]["end_offset"], 160);
        let doc: EdgeDoc<'static> = serde_json::from_str(&json).unwrap();
        let got = EdgeEvent::from_doc(doc).unwrap();
        assert_eq!(got.key, "edge:web01/s1");
        assert_eq!(got.event.record(), sent.record());
        assert_eq!(got.event.end_offset, 160);
        assert_eq!(got.event.format, "iso");
    }

    /// An exception the edge made by the standard grouping of this version arrives marked
    /// so, and the central does not store it; any other arrives to be stored.
    #[test]
    fn the_standard_grouping_travels_with_the_exception() {
        let file = Arc::new(FileInfo {
            path: PathBuf::from("/logs/app.log"),
            meta: FileMeta::default(),
            date_ts: None,
        });
        let text = "2024-03-01 10:00:00,000 ERROR [main] com.acme.Job - failed\n\
                    java.lang.IllegalStateException: boom\n\
                    \tat com.acme.Job.run(Job.java:10)";
        let folder = crate::read::LineFolder::new(
            &file,
            crate::fold::FoldSettings::default(),
            jiff::tz::TimeZone::UTC,
            2024,
        );
        let mut sent = crate::read::refold(folder, text).unwrap();
        sent.end_offset = sent.offset + text.len() as u64 + 1;
        crate::fold::Analyzer::standard().analyse(&mut sent);
        let arrived = |sent: &Event| {
            let json = serde_json::to_string(&EdgeDoc::new(sent, "web01", "s1")).unwrap();
            let value: serde_json::Value = serde_json::from_str(&json).unwrap();
            let mark = value["stackfold"]["standard_grouping"].clone();
            let got = EdgeEvent::from_doc(serde_json::from_str(&json).unwrap()).unwrap();
            assert_eq!(got.event.exception, sent.exception);
            (mark, got.event.exception.unwrap().recomputable)
        };
        assert_eq!(arrived(&sent), (serde_json::Value::Bool(true), true));
        // From an edge whose grouping is its own.
        let mut own = sent.clone();
        own.exception.as_mut().unwrap().recomputable = false;
        assert_eq!(arrived(&own), (serde_json::Value::Null, false));
        // From an edge of another grouping version.
        let mut older = sent.clone();
        older.exception.as_mut().unwrap().grouping_version -= 1;
        assert_eq!(arrived(&older), (serde_json::Value::Bool(true), false));
    }

    #[test]
    fn a_document_without_a_position_is_refused() {
        let sent = event();
        let mut doc = EdgeDoc::new(&sent, "web01", "s1");
        doc.stackfold.end_offset = 100;
        let json = serde_json::to_string(&doc).unwrap();
        let err = EdgeEvent::from_doc(serde_json::from_str(&json).unwrap()).unwrap_err();
        assert!(err.contains("end_offset"), "{err}");
        assert_eq!(doc_id("web01", "s1", 100), "web01:s1:100");
    }
}
