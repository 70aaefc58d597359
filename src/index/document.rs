//! An event as a tantivy document.

use tantivy::TantivyDocument;
use xxhash_rust::xxh3::xxh3_64;

use super::schema::{Fields, to_date};
use crate::event::Event;

/// `flags` bit: the event was cut at a cap.
pub const FLAG_TRUNCATED: u64 = 1;
/// `flags` bit: the event is the rest of a cut event.
pub const FLAG_CONTINUED: u64 = 2;

/// The id of the event at `offset` of the file or stream known as `key` (its checkpoint key,
/// which is its path unless an earlier file at that path was rotated away): the key's hash
/// plus the offset. It is the same whenever the same file is indexed again, two events of one
/// file never share it, and events of different files only as rarely as two 64-bit hashes
/// do. The index keeps the key and the offset, which compress, and computes the id from them
/// (see [`EventIds`](super::stored::EventIds)).
pub fn event_id(key: &str, offset: u64) -> u64 {
    key_hash(key.as_bytes()).wrapping_add(offset)
}

/// The hash of a file's or stream's checkpoint key that its events' ids start from.
pub fn key_hash(key: &[u8]) -> u64 {
    xxh3_64(key)
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

/// Where `message` starts in `text` when it ends the first line, as it does for every
/// format but those whose message is unescaped from JSON.
pub fn message_at(text: &str, message: &str) -> Option<usize> {
    let first = first_line(text);
    first
        .ends_with(message)
        .then(|| first.len() - message.len())
}

/// The message of an event from `text` and where it starts (see [`message_at`]).
pub fn message_from(text: &str, at: usize) -> Option<&str> {
    first_line(text).get(at..)
}

fn first_line(text: &str) -> &str {
    text.split_once('\n').map_or(text, |(first, _)| first)
}

/// The document for `event` of the file or stream with checkpoint key `key`, indexed in
/// batch `ingested`; its id is [`event_id`]`(key, event.offset)`.
pub fn to_document(f: &Fields, event: &Event, key: &str, ingested: u64) -> TantivyDocument {
    let mut doc = TantivyDocument::new();
    let source = event.source.path.to_string_lossy();
    doc.add_text(f.key, key);
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
    text(f.text, Some(&event.text));
    match message_at(&event.text, &event.message) {
        Some(at) => doc.add_u64(f.message_at, at as u64),
        None => doc.add_text(f.message, &event.message),
    }
    doc.add_text(f.body, event.trace_text());
    doc.add_u64(f.line, event.line);
    doc.add_u64(f.offset, event.offset);
    doc.add_u64(f.lines, u64::from(event.lines));
    let flags = (u64::from(event.truncated) * FLAG_TRUNCATED)
        | (u64::from(event.continued) * FLAG_CONTINUED);
    doc.add_u64(f.flags, flags);
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
    if let Some(pattern) = &event.pattern {
        doc.add_text(f.pattern, &pattern.id);
        // A template from the config is kept: it cannot be computed again without it.
        if pattern.custom {
            doc.add_text(f.template, &pattern.template);
        }
    }
    if !event.fields.is_empty() {
        let json = serde_json::to_string(&event.fields).expect("fields serialise");
        doc.add_text(f.fields, json);
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_that_ends_the_first_line_is_found_there() {
        let text =
            "2024-03-01 10:00:00 ERROR [main] c.a.Billing - charge failed\n\tat c.a.B.x(B.java:1)";
        let at = message_at(text, "charge failed").unwrap();
        assert_eq!(message_from(text, at), Some("charge failed"));
        let at = message_at("WARN x - ", "").unwrap();
        assert_eq!(message_from("WARN x - ", at), Some(""));
    }

    #[test]
    fn a_message_not_written_as_is_is_not_found() {
        // JSON lines: the message is unescaped; in the middle of the line; a later line.
        assert_eq!(
            message_at(r#"{"msg":"a \"b\"","level":"info"}"#, r#"a "b""#),
            None
        );
        assert_eq!(message_at("ts INFO hello world [x]", "hello world"), None);
        assert_eq!(message_at("ts INFO first\nsecond", "second"), None);
    }
}
