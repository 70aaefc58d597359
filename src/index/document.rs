//! An event as a tantivy document.

use tantivy::TantivyDocument;
use xxhash_rust::xxh3::xxh3_64;

use super::schema::{Fields, SCHEMA_VERSION, to_date};
use crate::event::Event;

/// `flags` bit: the event was cut at a cap.
pub const FLAG_TRUNCATED: u64 = 1;
/// `flags` bit: the event is the rest of a cut event.
pub const FLAG_CONTINUED: u64 = 2;

/// A stable id for the event at `offset` of the file known as `file` (its checkpoint key,
/// which is its path unless an earlier file at that path was rotated away).
pub fn event_id(file: &str, offset: u64) -> u64 {
    let source = file;
    let mut key = Vec::with_capacity(source.len() + 9);
    key.extend_from_slice(source.as_bytes());
    key.push(0);
    key.extend_from_slice(&offset.to_le_bytes());
    xxh3_64(&key)
}

/// An event id as users see it: 16 hex digits.
pub fn format_id(id: u64) -> String {
    format!("{id:016x}")
}

/// Parses 16 hex digits back into an event id.
pub fn parse_id(text: &str) -> Option<u64> {
    (text.len() == 16)
        .then(|| u64::from_str_radix(text, 16).ok())
        .flatten()
}

/// The document for `event` of the file with checkpoint key `file`, indexed in batch
/// `ingested`.
pub fn to_document(f: &Fields, event: &Event, file: &str, ingested: u64) -> TantivyDocument {
    let mut doc = TantivyDocument::new();
    let source = event.source.path.to_string_lossy();
    doc.add_u64(f.id, event_id(file, event.offset));
    doc.add_u64(f.ingested, ingested);
    if let Some(ts) = event.ts {
        doc.add_date(f.ts, to_date(ts));
    }
    let mut text = |field, value: Option<&str>| {
        if let Some(v) = value {
            doc.add_text(field, v);
        }
    };
    text(f.level, event.level.map(|l| l.as_str()));
    text(f.logger, event.logger.as_deref());
    text(f.thread, event.thread.as_deref());
    let meta = event.meta();
    text(f.app, meta.app.as_deref());
    text(f.env, meta.env.as_deref());
    text(f.tag, meta.tag.as_deref());
    text(f.host, meta.host.as_deref());
    text(f.logtype, meta.logtype.as_deref());
    text(f.date, meta.date.as_deref());
    text(f.source, Some(&source));
    text(f.format, Some(event.format));
    text(f.message, Some(&event.message));
    text(f.text, Some(&event.text));
    doc.add_text(f.body, event.trace_text());
    doc.add_u64(f.line, event.line);
    doc.add_u64(f.offset, event.offset);
    doc.add_u64(f.lines, u64::from(event.lines));
    let flags = (u64::from(event.truncated) * FLAG_TRUNCATED)
        | (u64::from(event.continued) * FLAG_CONTINUED);
    doc.add_u64(f.flags, flags);
    doc.add_u64(f.schema_version, SCHEMA_VERSION);
    if let Some(x) = &event.exception {
        for exc in &x.chain {
            doc.add_text(f.exc_types, &exc.ty);
            for frame in exc.frames.iter().filter(|fr| fr.in_app) {
                doc.add_text(f.frames, format!("{}.{}", frame.module, frame.function));
            }
        }
        doc.add_text(f.root_type, &x.root_type);
        doc.add_text(f.fingerprint, &x.fingerprint);
        doc.add_text(f.template, &x.template);
        doc.add_text(
            f.exception,
            serde_json::to_string(x).expect("exceptions serialise"),
        );
        doc.add_u64(f.grouping_version, u64::from(x.grouping_version));
    }
    doc
}
