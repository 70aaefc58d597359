//! The index schema: which event fields are searchable, filterable, sortable and stored.

use tantivy::DateTime;
use tantivy::schema::{
    DateOptions, DateTimePrecision, FAST, Field, IndexRecordOption, NumericOptions, Schema,
    TextFieldIndexing, TextOptions,
};

/// Bumped when the schema changes; an index of another version is refused with a message.
pub const SCHEMA_VERSION: u64 = 11;

/// The name the code tokenizer is registered under.
pub const CODE_TOKENIZER: &str = "code";

/// The fields of the schema, by role.
#[derive(Debug, Clone)]
pub struct Fields {
    /// The checkpoint key of the file or stream the event was read from (its path, unless an
    /// earlier file at that path was rotated away). With `offset`, it makes the event's id
    /// (see [`crate::index::document::event_id`]), which is not a column of its own: 64 random
    /// bits an event were a tenth of the index.
    pub key: Field,
    /// When the event was indexed: the writer's batch, in milliseconds since the epoch,
    /// strictly increasing from one commit to the next. What the live view follows.
    pub ingested: Field,
    pub ts: Field,
    pub level: Field,
    pub logger: Field,
    pub thread: Field,
    /// The values the event takes from its file (app, env, tag, host, log type, date,
    /// source), held together as one term (see [`crate::index::files`]).
    pub file: Field,
    pub line: Field,
    pub offset: Field,
    pub lines: Field,
    pub format: Field,
    pub flags: Field,
    /// The first line's message, stored for display (searched through `body`) when it is not
    /// the end of the event's first line as written; when it is, `message_at` says where it
    /// starts and it is not stored twice.
    pub message: Field,
    pub message_at: Field,
    /// The event as written: stored for display, not indexed, when the writer has no texts
    /// index; else kept there (see [`crate::index::texts`]), and `line`, `lines` and
    /// `message_at` with it.
    pub text: Field,
    /// The number of the chunk of the texts index that holds the event's text.
    pub text_chunk: Field,
    /// What is searched by default: the message and the continuation lines, without the
    /// repeated headers (timestamps and levels have fields of their own).
    pub body: Field,
    /// The hash of an exception event's frame block, whose lines are searched in the blocks
    /// index rather than in `body` (see [`crate::index::blocks`]).
    pub block: Field,
    /// The chain's types, and below the in-app frames: per event when the writer has no
    /// blocks index, else once per distinct trace there (see [`crate::index::blocks`]).
    pub exc_types: Field,
    pub root_type: Field,
    pub fingerprint: Field,
    pub frames: Field,
    /// A pattern's template when the config's `[patterns]` made it (else computed again).
    pub template: Field,
    /// The exception as JSON when grouping config of one's own made it; one made by the
    /// standard grouping is found again in `text` when read (see
    /// [`Exception::recomputable`](crate::event::Exception::recomputable)).
    pub exception: Field,
    /// The pattern id of an event without an exception (see [`crate::fold::pattern`]); its
    /// template is computed again from the message when read, not stored.
    pub pattern: Field,
    pub grouping_version: Field,
    /// The `_id`s of the shipped documents an event was folded from: a retried document is
    /// found by its id and not indexed twice. Indexed, not stored.
    pub doc_id: Field,
    /// A shipped event's other fields, as JSON: stored for display, not indexed.
    pub fields: Field,
}

/// Code-tokenized text with positions (for phrases, which camelCase splitting makes of most
/// queries) and without field norms (results are sorted by time, never scored by length).
pub(super) fn code_text(stored: bool) -> TextOptions {
    let indexing = TextFieldIndexing::default()
        .set_tokenizer(CODE_TOKENIZER)
        .set_index_option(IndexRecordOption::WithFreqsAndPositions)
        .set_fieldnorms(false);
    let options = TextOptions::default().set_indexing_options(indexing);
    if stored {
        options.set_stored()
    } else {
        options
    }
}

/// A keyword: one term, exact match, without field norms (never scored by length).
fn keyword() -> TextOptions {
    TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer("raw")
            .set_index_option(IndexRecordOption::Basic)
            .set_fieldnorms(false),
    )
}

/// Builds the schema.
///
/// A value that is a fast field is not stored as well: events are shown with their fast
/// columns read beside the docstore (see [`crate::query::EventReader`]). Storing each
/// event's file fields, id and time a second time made the docstore a third larger.
pub fn build() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let filterable = keyword() | FAST;
    let stored_only = TextOptions::default().set_stored();
    // A fast column only: time ranges are answered from it, and indexing the time as well
    // made a term per event (8 % of the index, and its largest dictionary).
    let ts_options = DateOptions::default()
        .set_fast()
        .set_precision(DateTimePrecision::Microseconds);
    let fields = Fields {
        key: b.add_text_field("key", TextOptions::from(FAST)),
        ingested: b.add_u64_field("ingested", FAST),
        ts: b.add_date_field("ts", ts_options),
        level: b.add_text_field("level", filterable.clone()),
        // Columns rather than stored: a column holds each distinct name once, the docstore
        // held them once per event (issue 17: the index 5 % smaller).
        logger: b.add_text_field("logger", filterable.clone()),
        thread: b.add_text_field("thread", filterable.clone()),
        file: b.add_text_field(super::files::FILE_FIELD, filterable.clone()),
        line: b.add_u64_field("line", FAST),
        offset: b.add_u64_field("offset", FAST),
        lines: b.add_u64_field("lines", FAST),
        format: b.add_text_field("format", TextOptions::from(FAST)),
        flags: b.add_u64_field("flags", FAST),
        message: b.add_text_field("message", stored_only.clone()),
        message_at: b.add_u64_field("message_at", FAST),
        text: b.add_text_field("text", stored_only.clone()),
        text_chunk: b.add_u64_field("text_chunk", FAST),
        body: b.add_text_field("body", code_text(false)),
        // Terms only: no norms (a byte an event), never read back.
        block: b.add_u64_field("block", NumericOptions::default().set_indexed()),
        exc_types: b.add_text_field("exc_types", code_text(false)),
        root_type: b.add_text_field("root_type", filterable.clone()),
        fingerprint: b.add_text_field("fingerprint", filterable.clone()),
        frames: b.add_text_field("frames", code_text(false)),
        template: b.add_text_field("template", stored_only.clone()),
        exception: b.add_text_field("exception", stored_only.clone()),
        pattern: b.add_text_field("pattern", filterable),
        grouping_version: b.add_u64_field("grouping_version", FAST),
        doc_id: b.add_text_field("doc_id", keyword()),
        fields: b.add_text_field("fields", stored_only),
    };
    (b.build(), fields)
}

impl Fields {
    /// The fields of an existing index's schema, by name.
    pub fn from_schema(schema: &Schema) -> tantivy::Result<Fields> {
        let f = |name: &str| schema.get_field(name);
        Ok(Fields {
            key: f("key")?,
            ingested: f("ingested")?,
            ts: f("ts")?,
            level: f("level")?,
            logger: f("logger")?,
            thread: f("thread")?,
            file: f(super::files::FILE_FIELD)?,
            line: f("line")?,
            offset: f("offset")?,
            lines: f("lines")?,
            format: f("format")?,
            flags: f("flags")?,
            message: f("message")?,
            message_at: f("message_at")?,
            text: f("text")?,
            text_chunk: f("text_chunk")?,
            body: f("body")?,
            block: f("block")?,
            exc_types: f("exc_types")?,
            root_type: f("root_type")?,
            fingerprint: f("fingerprint")?,
            frames: f("frames")?,
            template: f("template")?,
            exception: f("exception")?,
            pattern: f("pattern")?,
            grouping_version: f("grouping_version")?,
            doc_id: f("doc_id")?,
            fields: f("fields")?,
        })
    }
}

/// A jiff timestamp as a tantivy date (microseconds), clamped to the years tantivy can hold
/// (1677 to 2262).
pub fn to_date(ts: jiff::Timestamp) -> DateTime {
    const LIMIT: i64 = i64::MAX / 1000;
    DateTime::from_timestamp_micros(ts.as_microsecond().clamp(-LIMIT, LIMIT))
}

/// A tantivy date as a jiff timestamp.
pub fn from_date(date: DateTime) -> jiff::Timestamp {
    jiff::Timestamp::from_microsecond(date.into_timestamp_micros())
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}
