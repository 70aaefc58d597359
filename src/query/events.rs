//! Stored documents back into events in the fold stage's JSON format, plus their `id`.

use serde_json::{Map, Value, json};
use tantivy::TantivyDocument;
use tantivy::schema::{Field, Value as _};

use crate::index::Fields;
use crate::index::document::{FLAG_CONTINUED, FLAG_TRUNCATED, format_id};
use crate::index::schema::from_date;

fn text(doc: &TantivyDocument, field: Field) -> Value {
    doc.get_first(field)
        .and_then(|v| v.as_str().map(|s| Value::String(s.to_owned())))
        .unwrap_or(Value::Null)
}

fn number(doc: &TantivyDocument, field: Field) -> u64 {
    doc.get_first(field).and_then(|v| v.as_u64()).unwrap_or(0)
}

/// The event of a stored document, with the fields and order of `stackfold fold`'s output
/// and `id` first.
pub fn event_json(f: &Fields, doc: &TantivyDocument) -> Value {
    let mut m = Map::new();
    let id = doc.get_first(f.id).and_then(|v| v.as_u64()).map(format_id);
    m.insert("id".into(), json!(id));
    let ts = doc
        .get_first(f.ts)
        .and_then(|v| v.as_datetime())
        .map(|d| from_date(d).to_string());
    m.insert("ts".into(), json!(ts));
    for (name, field) in [
        ("level", f.level),
        ("logger", f.logger),
        ("thread", f.thread),
        ("message", f.message),
        ("source", f.source),
    ] {
        m.insert(name.into(), text(doc, field));
    }
    m.insert("line".into(), json!(number(doc, f.line)));
    m.insert(
        "meta".into(),
        json!({
            "logtype": text(doc, f.logtype),
            "app": text(doc, f.app),
            "env": text(doc, f.env),
            "tag": text(doc, f.tag),
            "host": text(doc, f.host),
            "date": text(doc, f.date),
        }),
    );
    m.insert("offset".into(), json!(number(doc, f.offset)));
    m.insert("lines".into(), json!(number(doc, f.lines)));
    m.insert("format".into(), text(doc, f.format));
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
