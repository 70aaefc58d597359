//! Indexed events back into events in the fold stage's JSON format, plus their `id`.
//!
//! What is also a fast field (the id, the time, the keyword and file fields) is read from its
//! column rather than stored twice; the docstore holds the rest (see
//! [`schema`](crate::index::schema)).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value, json};
use tantivy::columnar::{Column, StrColumn};
use tantivy::index::SegmentId;
use tantivy::schema::{Field, Value as _};
use tantivy::{DateTime, DocAddress, DocId, Searcher, SegmentReader, TantivyDocument};

use crate::index::Fields;
use crate::index::document::{FLAG_CONTINUED, FLAG_TRUNCATED, format_id, message_from};
use crate::index::schema::from_date;

/// The string columns an event is shown with, in the order of [`EventColumns::strs`].
const STR_COLUMNS: [&str; 9] = [
    "level", "source", "logtype", "app", "env", "tag", "host", "date", "format",
];

/// The fast columns of one segment that events are shown with.
pub struct EventColumns {
    id: Column<u64>,
    ts: Column<DateTime>,
    strs: [Option<StrColumn>; STR_COLUMNS.len()],
}

impl EventColumns {
    fn open(reader: &SegmentReader) -> tantivy::Result<EventColumns> {
        let ff = reader.fast_fields();
        let mut strs: [Option<StrColumn>; STR_COLUMNS.len()] = Default::default();
        for (column, name) in strs.iter_mut().zip(STR_COLUMNS) {
            *column = ff.str(name)?;
        }
        Ok(EventColumns {
            id: ff.u64("id")?,
            ts: ff.date("ts")?,
            strs,
        })
    }

    /// The value of string column `name` for `doc`, or null.
    fn str(&self, name: &str, doc: DocId) -> Value {
        let at = STR_COLUMNS
            .iter()
            .position(|n| *n == name)
            .expect("a column of STR_COLUMNS");
        let Some(column) = &self.strs[at] else {
            return Value::Null;
        };
        let mut out = String::new();
        match column.ords().first(doc) {
            Some(ord) if column.ord_to_str(ord, &mut out).unwrap_or(false) => Value::String(out),
            _ => Value::Null,
        }
    }
}

/// The fast columns of the segments events were read from, kept between queries: opening
/// a segment's columns costs about 0.2 ms, and the newest hits of a query are spread over
/// every segment.
#[derive(Default)]
pub struct ColumnCache(Mutex<HashMap<SegmentId, Arc<EventColumns>>>);

impl ColumnCache {
    fn get(&self, searcher: &Searcher, segment: u32) -> tantivy::Result<Arc<EventColumns>> {
        let reader = searcher.segment_reader(segment);
        let id = reader.segment_id();
        let mut cache = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(columns) = cache.get(&id) {
            return Ok(columns.clone());
        }
        let columns = Arc::new(EventColumns::open(reader)?);
        // Segments merged away since are forgotten when a new one is met.
        let live: HashSet<SegmentId> = searcher
            .segment_readers()
            .iter()
            .map(|r| r.segment_id())
            .collect();
        cache.retain(|id, _| live.contains(id));
        cache.insert(id, columns.clone());
        Ok(columns)
    }
}

/// Reads events from one searcher.
pub struct EventReader<'a> {
    searcher: &'a Searcher,
    fields: &'a Fields,
    columns: &'a ColumnCache,
}

impl<'a> EventReader<'a> {
    pub fn new(searcher: &'a Searcher, fields: &'a Fields, columns: &'a ColumnCache) -> Self {
        EventReader {
            searcher,
            fields,
            columns,
        }
    }

    /// The event at `address`, with the fields and order of `stackfold fold`'s output and
    /// `id` first.
    pub fn event(&self, address: DocAddress) -> tantivy::Result<Value> {
        let doc: TantivyDocument = self.searcher.doc(address)?;
        let columns = self.columns.get(self.searcher, address.segment_ord)?;
        Ok(event_json(self.fields, &doc, &columns, address.doc_id))
    }
}

fn text(doc: &TantivyDocument, field: Field) -> Value {
    doc.get_first(field)
        .and_then(|v| v.as_str().map(|s| Value::String(s.to_owned())))
        .unwrap_or(Value::Null)
}

fn number(doc: &TantivyDocument, field: Field) -> u64 {
    doc.get_first(field).and_then(|v| v.as_u64()).unwrap_or(0)
}

fn event_json(f: &Fields, doc: &TantivyDocument, columns: &EventColumns, at: DocId) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(columns.id.first(at).map(format_id)));
    let ts = columns.ts.first(at).map(|d| from_date(d).to_string());
    m.insert("ts".into(), json!(ts));
    m.insert("level".into(), columns.str("level", at));
    m.insert("logger".into(), text(doc, f.logger));
    m.insert("thread".into(), text(doc, f.thread));
    let message = match doc.get_first(f.message_at).and_then(|v| v.as_u64()) {
        Some(at) => doc
            .get_first(f.text)
            .and_then(|v| v.as_str())
            .and_then(|t| message_from(t, at as usize))
            .map_or(Value::Null, |m| Value::String(m.to_owned())),
        None => text(doc, f.message),
    };
    m.insert("message".into(), message);
    m.insert("source".into(), columns.str("source", at));
    m.insert("line".into(), json!(number(doc, f.line)));
    let mut meta = Map::new();
    for name in ["logtype", "app", "env", "tag", "host", "date"] {
        meta.insert(name.into(), columns.str(name, at));
    }
    m.insert("meta".into(), Value::Object(meta));
    m.insert("offset".into(), json!(number(doc, f.offset)));
    m.insert("lines".into(), json!(number(doc, f.lines)));
    m.insert("format".into(), columns.str("format", at));
    m.insert("text".into(), text(doc, f.text));
    let flags = number(doc, f.flags);
    if flags & FLAG_TRUNCATED != 0 {
        m.insert("truncated".into(), Value::Bool(true));
    }
    if flags & FLAG_CONTINUED != 0 {
        m.insert("continued".into(), Value::Bool(true));
    }
    if let Some(exc) = doc.get_first(f.exception).and_then(|v| v.as_str())
        && let Ok(value) = serde_json::from_str::<Value>(exc)
    {
        m.insert("exception".into(), value);
    }
    Value::Object(m)
}
