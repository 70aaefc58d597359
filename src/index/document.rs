//! An event as a tantivy document.

use tantivy::DateTime;
use tantivy::schema::document::{ReferenceValue, ReferenceValueLeaf, Value};
use tantivy::schema::{Document, Field};
use xxhash_rust::xxh3::xxh3_64;

use super::schema::{Fields, to_date};
use crate::event::{Event, Exception, Frame};

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

/// The in-app frames of an exception's chain, which its `frames` field holds.
fn in_app_frames(exception: &Exception) -> impl Iterator<Item = &Frame> {
    let frames = exception.chain.iter().flat_map(|e| e.frames.iter());
    frames.filter(|frame| frame.in_app)
}

/// `module.function`, as `frames` holds a frame.
fn frame_name(frame: &Frame) -> String {
    format!("{}.{}", frame.module, frame.function)
}

/// An event as tantivy indexes it: the event itself and what is computed from it, its
/// values borrowed by the indexer rather than copied into a `TantivyDocument` first (building
/// those copies, and freeing them, was a seventh of `stackfold index`'s CPU).
pub struct EventDocument {
    fields: Fields,
    event: Event,
    key: String,
    ingested: u64,
    /// The values the event takes from its file, as one term (see [`super::files`]).
    file: std::sync::Arc<str>,
    body: Body,
    /// The hash of the frame block taken out of `body` (see [`super::blocks`]).
    block: Option<u64>,
    /// The hash of the trace whose types and frames are indexed in the blocks index rather
    /// than in `exc_types` and `frames` (see [`super::blocks`]).
    trace: Option<u64>,
    /// The chunk of the texts index the text was written to (see [`super::texts`]).
    text_chunk: Option<u64>,
    message_at: Option<u64>,
    /// `module.function` of the in-app frames.
    frames: Vec<String>,
    exception: Option<String>,
    extra: Option<String>,
    doc_ids: Vec<String>,
}

/// Where the searched body of an event is.
enum Body {
    /// The text from this byte on: the message ends the first line, and the continuation
    /// lines follow as written.
    TextFrom(usize),
    Owned(String),
}

impl EventDocument {
    /// The document for `event` of the file or stream with checkpoint key `key`, indexed in
    /// batch `ingested`; its id is [`event_id`]`(key, event.offset)`.
    ///
    /// Boxed: tantivy's writer sends each document through its queue in a batch with room
    /// for four, so an unboxed document (800 bytes) was copied about ten times over on its
    /// way to an indexing thread (copies and the queue were 14 % of `stackfold index`'s CPU
    /// in its profile, 7 % once boxed).
    pub fn new(fields: &Fields, event: Event, key: &str, ingested: u64) -> Box<EventDocument> {
        Self::new_in(
            fields,
            event,
            key,
            ingested,
            &mut super::files::FileTerms::default(),
        )
    }

    /// [`EventDocument::new`], the event's `file` term taken from `files`, which makes it once
    /// per file rather than once per event.
    pub fn new_in(
        fields: &Fields,
        event: Event,
        key: &str,
        ingested: u64,
        files: &mut super::files::FileTerms,
    ) -> Box<EventDocument> {
        let at = message_at(&event.text, &event.message);
        let body = match at {
            Some(at) if event.stack_trace.is_none() && event.detail.is_none() => Body::TextFrom(at),
            _ => Body::Owned(event.trace_text().into_owned()),
        };
        let mut exception = None;
        if let Some(x) = &event.exception {
            // An exception the reader finds again in the text is not stored (issue 17:
            // the exceptions were 12 % of the stored events).
            if !x.recomputable {
                exception = Some(serde_json::to_string(x).expect("exceptions serialise"));
            }
            // Every test that indexes an exception checks that reading it back finds it again.
            debug_assert!(
                !x.recomputable
                    || super::stored::found_again(
                        &event.record(),
                        x.fingerprint.clone(),
                        Some(x.grouping_version)
                    )
                    .as_ref()
                        == Some(x),
                "the exception of {:?} is not found again in its text",
                event.text
            );
        }
        let extra = (!event.fields.is_empty())
            .then(|| serde_json::to_string(&event.fields).expect("fields serialise"));
        let file = files.term(&event.source);
        Box::new(EventDocument {
            fields: fields.clone(),
            file,
            key: key.to_owned(),
            ingested,
            body,
            block: None,
            trace: None,
            text_chunk: None,
            message_at: at.map(|at| at as u64),
            frames: Vec::new(),
            exception,
            extra,
            doc_ids: Vec::new(),
            event,
        })
    }

    /// Takes an exception event's frame block out of its searched body, to be indexed once in
    /// `blocks` (see [`super::blocks`]). Nothing for an event without an exception or whose
    /// body has no indented line.
    pub fn take_block(
        &mut self,
        blocks: &mut super::blocks::BlockWriter,
    ) -> crate::error::Result<()> {
        if self.event.exception.is_none() {
            return Ok(());
        }
        let Some((kept, hash)) = super::blocks::split(self.body()) else {
            return Ok(());
        };
        blocks.add(hash, || super::blocks::block_of(self.body()))?;
        self.body = Body::Owned(kept);
        self.block = Some(hash);
        Ok(())
    }

    /// Takes an exception event's types and in-app frames out of its `exc_types` and
    /// `frames`, to be indexed once per distinct trace in `blocks`. Nothing for an event
    /// without an exception.
    pub fn take_trace(
        &mut self,
        blocks: &mut super::blocks::BlockWriter,
    ) -> crate::error::Result<()> {
        let Some(exception) = self.event.exception.as_ref() else {
            return Ok(());
        };
        let types = || exception.chain.iter().map(|e| e.ty.as_str());
        let named = in_app_frames(exception).map(|f| (f.module.as_str(), f.function.as_str()));
        let hash = super::blocks::trace_hash(types(), named);
        blocks.add_trace(hash, types(), in_app_frames(exception).map(frame_name))?;
        self.trace = Some(hash);
        Ok(())
    }

    /// Keeps an exception event's in-app frames for its own `frames` field, for an index
    /// without blocks.
    pub fn keep_frames(&mut self) {
        let Some(exception) = self.event.exception.as_ref() else {
            return;
        };
        self.frames = in_app_frames(exception).map(frame_name).collect();
    }

    /// The length of the event's text.
    pub fn text_len(&self) -> usize {
        self.event.text.len()
    }

    /// Writes the event's text, line, lines and where its message starts to `texts` rather
    /// than to the docstore and the columns.
    pub fn write_text(&mut self, texts: &mut super::texts::TextWriter) -> crate::error::Result<()> {
        let chunk = texts.add(&super::texts::Entry {
            key_hash: key_hash(self.key.as_bytes()),
            offset: self.event.offset,
            line: self.event.line,
            lines: self.event.lines,
            message_at: self.message_at,
            text: &self.event.text,
        })?;
        self.text_chunk = Some(chunk);
        Ok(())
    }

    /// The text `body` is searched by.
    fn body(&self) -> &str {
        match &self.body {
            Body::TextFrom(at) => &self.event.text[*at..],
            Body::Owned(body) => body,
        }
    }

    /// The document also holds the ids of the shipped documents it was folded from.
    pub fn with_doc_ids(mut self: Box<Self>, ids: &[String]) -> Box<EventDocument> {
        self.doc_ids = ids.to_vec();
        self
    }

    /// The event's values by field, in the order a `TantivyDocument` of it used to have.
    fn values<'a>(&'a self) -> Vec<(Field, Leaf<'a>)> {
        let (f, event) = (&self.fields, &self.event);
        let mut out: Vec<(Field, Leaf<'a>)> = Vec::with_capacity(32);
        let mut text = |field, value: Option<&'a str>| {
            if let Some(v) = value {
                out.push((field, Leaf::Str(v)));
            }
        };
        text(f.key, Some(&self.key));
        text(f.level, event.level.map(|l| l.as_str()));
        text(f.logger, event.logger.as_deref());
        text(f.thread, event.thread.as_deref());
        text(f.file, Some(&self.file));
        text(f.format, Some(event.format));
        if self.text_chunk.is_none() {
            text(f.text, Some(&event.text));
        }
        if self.message_at.is_none() {
            text(f.message, Some(&event.message));
        }
        text(f.body, Some(self.body()));
        if let Some(x) = &event.exception {
            if self.trace.is_none() {
                for exc in &x.chain {
                    text(f.exc_types, Some(&exc.ty));
                }
                for frame in &self.frames {
                    text(f.frames, Some(frame));
                }
            }
            text(f.root_type, Some(&x.root_type));
            text(f.fingerprint, Some(&x.fingerprint));
            text(f.exception, self.exception.as_deref());
        }
        if let Some(pattern) = &event.pattern {
            text(f.pattern, Some(&pattern.id));
            // A template from the config is kept: it cannot be computed again without it.
            if pattern.custom {
                text(f.template, Some(&pattern.template));
            }
        }
        text(f.fields, self.extra.as_deref());
        for id in &self.doc_ids {
            text(f.doc_id, Some(id));
        }
        let flags = (u64::from(event.truncated) * FLAG_TRUNCATED)
            | (u64::from(event.continued) * FLAG_CONTINUED);
        out.extend([
            (f.ingested, Leaf::U64(self.ingested)),
            (f.offset, Leaf::U64(event.offset)),
        ]);
        // Nearly always none: an event without a value reads as 0 (issue 17: a value a column
        // less for tantivy to record per event).
        if flags != 0 {
            out.push((f.flags, Leaf::U64(flags)));
        }
        match self.text_chunk {
            Some(chunk) => out.push((f.text_chunk, Leaf::U64(chunk))),
            None => {
                out.push((f.line, Leaf::U64(event.line)));
                out.push((f.lines, Leaf::U64(u64::from(event.lines))));
                if let Some(at) = self.message_at {
                    out.push((f.message_at, Leaf::U64(at)));
                }
            }
        }
        if let Some(ts) = event.ts {
            out.push((f.ts, Leaf::Date(to_date(ts))));
        }
        for named in [self.block, self.trace].into_iter().flatten() {
            out.push((f.block, Leaf::U64(named)));
        }
        if let Some(x) = &event.exception {
            out.push((f.grouping_version, Leaf::U64(u64::from(x.grouping_version))));
        }
        out
    }
}

impl Document for Box<EventDocument> {
    type Value<'a> = Leaf<'a>;
    type FieldsValuesIter<'a> = std::vec::IntoIter<(Field, Leaf<'a>)>;

    fn iter_fields_and_values(&self) -> Self::FieldsValuesIter<'_> {
        self.values().into_iter()
    }
}

/// One value of an [`EventDocument`], borrowed from it.
#[derive(Debug, Clone)]
pub enum Leaf<'a> {
    Str(&'a str),
    U64(u64),
    Date(DateTime),
}

impl<'a> Value<'a> for Leaf<'a> {
    type ArrayIter = std::iter::Empty<Leaf<'a>>;
    type ObjectIter = std::iter::Empty<(&'a str, Leaf<'a>)>;

    fn as_value(&self) -> ReferenceValue<'a, Self> {
        ReferenceValue::Leaf(match *self {
            Leaf::Str(s) => ReferenceValueLeaf::Str(s),
            Leaf::U64(n) => ReferenceValueLeaf::U64(n),
            Leaf::Date(d) => ReferenceValueLeaf::Date(d),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The body an event is searched by is its trace text, taken from the stored text when the
    /// message ends the first line (no copy) and built otherwise; the message is stored only
    /// when it cannot be found in the text. On every fixture and a JSON line with a trace.
    #[test]
    fn an_event_document_searches_the_trace_text_and_stores_the_message_once() {
        let settings = crate::config::ConfigFile::default()
            .settings(Some("UTC"), 1, 2020)
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let json = dir.path().join("app.json.log");
        let line = r#"{"@timestamp":"2024-03-01T10:00:00Z","level":"ERROR","message":"charge \"failed\"","stack_trace":"java.lang.IllegalStateException: x\n\tat a.b.C.d(C.java:1)"}"#;
        std::fs::write(&json, format!("{line}\nplain second line\n")).unwrap();
        let mut files = vec![json];
        for sub in ["java", "python", "go", "runtimes", "rust"] {
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("fixtures")
                .join(sub);
            files.extend(std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()));
        }
        let (_, fields) = super::super::schema::build();
        let (mut from_text, mut built) = (0, 0);
        for path in files {
            for event in crate::pipeline::collect_file(path, &settings).0 {
                let body = event.trace_text().into_owned();
                let (text, message) = (event.text.clone(), event.message.clone());
                let doc = EventDocument::new(&fields, event, "k", 1);
                let values = doc.values();
                let of = |field| -> Vec<&str> {
                    let values = values.iter().filter(|(f, _)| *f == field);
                    values.map(|(_, v)| v.as_str().unwrap()).collect()
                };
                assert_eq!(of(fields.body), [body.as_str()], "{text}");
                let at = values.iter().find(|(f, _)| *f == fields.message_at);
                match at.map(|(_, v)| v.as_u64().unwrap()) {
                    Some(at) => {
                        assert_eq!(message_from(&text, at as usize), Some(message.as_str()));
                        assert!(of(fields.message).is_empty());
                    }
                    None => assert_eq!(of(fields.message), [message.as_str()]),
                }
                match doc.body {
                    Body::TextFrom(_) => from_text += 1,
                    Body::Owned(_) => built += 1,
                }
            }
        }
        assert!(from_text > 500 && built >= 2, "{from_text} {built}");
    }

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
