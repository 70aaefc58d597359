//! Indexed documents back into [`StoredEvent`]s: the fold stage's record plus the event's
//! `id`, what [`document`](super::document) made of an event read the other way.
//!
//! What is also a fast field (the id's key and offset, the time, the keyword and file fields)
//! is read from its column rather than stored twice; the docstore holds the rest (see
//! [`schema`](super::schema)).

use std::borrow::Cow;
use std::sync::{Arc, LazyLock};

use quick_cache::sync::Cache;
use serde::{Deserialize, Serialize};
use tantivy::columnar::{Column, StrColumn};
use tantivy::index::SegmentId;
use tantivy::schema::{Field, Value as _};
use tantivy::{DateTime, DocId, SegmentReader, TantivyDocument};

use super::Fields;
use super::document::{FLAG_CONTINUED, FLAG_TRUNCATED, format_id, key_hash, message_from};
use super::schema::from_date;
use super::texts::{Entry, TextStore};
use crate::event::{Event, EventRecord, Exception, FileInfo, FileMeta, Level};
use crate::fold::Analyzer;
use crate::fold::FoldSettings;
use crate::read::LineFolder;

/// An event as the index gives it back: `id` (16 hex digits), then the fields of
/// `stackfold fold`'s NDJSON, in that order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredEvent {
    pub id: String,
    #[serde(flatten)]
    pub event: EventRecord<'static>,
}

/// The string columns an event is shown with, in the order of [`EventColumns::strs`].
const STR_COLUMNS: [&str; 7] = [
    "level",
    "logger",
    "thread",
    super::files::FILE_FIELD,
    "format",
    "pattern",
    "fingerprint",
];

/// The ids of one segment's events, computed from the columns of their keys and offsets
/// (see [`event_id`](super::document::event_id)).
pub struct EventIds {
    keys: Option<StrColumn>,
    /// The hash of each key, by ordinal.
    hashes: Vec<u64>,
    offsets: Column<u64>,
}

impl EventIds {
    pub fn open(reader: &SegmentReader) -> tantivy::Result<EventIds> {
        let ff = reader.fast_fields();
        let keys = ff.str("key")?;
        let mut hashes = Vec::new();
        if let Some(keys) = &keys {
            hashes.reserve(keys.num_terms());
            let mut terms = keys.dictionary().stream()?;
            while terms.advance() {
                hashes.push(key_hash(terms.key()));
            }
        }
        Ok(EventIds {
            keys,
            hashes,
            offsets: ff.u64("offset")?,
        })
    }

    /// The id of `doc`.
    pub fn id(&self, doc: DocId) -> Option<u64> {
        Some(self.key_hash(doc)?.wrapping_add(self.offsets.first(doc)?))
    }

    /// The hash of the checkpoint key of `doc`.
    pub fn key_hash(&self, doc: DocId) -> Option<u64> {
        let ord = self.keys.as_ref()?.ords().first(doc)?;
        self.hashes.get(ord as usize).copied()
    }

    /// The checkpoint key of the file or stream `doc` was read from.
    pub fn key(&self, doc: DocId) -> Option<String> {
        let keys = self.keys.as_ref()?;
        let mut out = String::new();
        keys.ord_to_str(keys.ords().first(doc)?, &mut out)
            .ok()?
            .then_some(out)
    }

    /// The offset of `doc` in its file or stream.
    pub fn offset(&self, doc: DocId) -> Option<u64> {
        self.offsets.first(doc)
    }

    /// The first document below `max_doc` with `id` that `live` accepts. For each key the id
    /// names one offset; any other key's would be past the segment's largest offset but for
    /// a chance in 2^64 / that offset, so this reads the offsets column for one value, about
    /// once.
    pub fn find(&self, id: u64, max_doc: DocId, live: impl Fn(DocId) -> bool) -> Option<DocId> {
        let keys = self.keys.as_ref()?;
        let largest = self.offsets.max_value();
        let mut docs = Vec::new();
        for (ord, hash) in self.hashes.iter().enumerate() {
            let offset = id.wrapping_sub(*hash);
            if offset > largest {
                continue;
            }
            docs.clear();
            self.offsets
                .get_docids_for_value_range(offset..=offset, 0..max_doc, &mut docs);
            let found = docs
                .iter()
                .copied()
                .find(|&doc| keys.ords().first(doc) == Some(ord as u64) && live(doc));
            if found.is_some() {
                return found;
            }
        }
        None
    }
}

/// The fast columns of one segment that events are shown with.
pub struct EventColumns {
    pub ids: EventIds,
    ts: Column<DateTime>,
    /// Small numbers, cheaper as columns than stored: `line`, `lines`, `flags`, `message_at`.
    line: Column<u64>,
    lines: Column<u64>,
    flags: Column<u64>,
    message_at: Column<u64>,
    grouping_version: Column<u64>,
    strs: [Option<StrColumn>; STR_COLUMNS.len()],
    segment: SegmentId,
    text_chunk: Column<u64>,
    /// Where texts not in the docstore are read (see [`super::texts`]).
    texts: Option<Arc<TextStore>>,
}

impl EventColumns {
    /// The columns of the segment `reader`, the texts read from `texts`.
    pub fn open(
        reader: &SegmentReader,
        texts: Option<Arc<TextStore>>,
    ) -> tantivy::Result<EventColumns> {
        let ff = reader.fast_fields();
        let mut strs: [Option<StrColumn>; STR_COLUMNS.len()] = Default::default();
        for (column, name) in strs.iter_mut().zip(STR_COLUMNS) {
            *column = ff.str(name)?;
        }
        Ok(EventColumns {
            ids: EventIds::open(reader)?,
            ts: ff.date("ts")?,
            line: ff.u64("line")?,
            lines: ff.u64("lines")?,
            flags: ff.u64("flags")?,
            message_at: ff.u64("message_at")?,
            grouping_version: ff.u64("grouping_version")?,
            strs,
            segment: reader.segment_id(),
            text_chunk: ff.u64("text_chunk")?,
            texts,
        })
    }

    /// The text of `doc` as the texts index keeps it, with its line, lines and where its
    /// message starts; `None` when it is kept in the docstore.
    fn kept_text(&self, doc: DocId) -> Option<Entry<String>> {
        let chunk = self.text_chunk.first(doc)?;
        let Some(texts) = &self.texts else {
            tracing::warn!("an event's text is in chunk {chunk} of a texts index not opened");
            return None;
        };
        let (key_hash, offset) = (self.ids.key_hash(doc)?, self.ids.offset(doc)?);
        match texts.get(chunk, key_hash, offset) {
            Ok(Some(entry)) => Some(entry),
            // Its chunk deleted since the caller's view (the event was pruned or regrouped).
            Ok(None) => None,
            Err(err) => {
                tracing::warn!("reading chunk {chunk} of the texts index: {err}");
                None
            }
        }
    }

    /// Whether string column `name` has a value for `doc`, without looking the value up in
    /// the column's dictionary (a compressed block of it is decompressed at each look-up).
    fn has(&self, name: &str, doc: DocId) -> bool {
        self.strs[Self::position(name)]
            .as_ref()
            .is_some_and(|column| column.ords().first(doc).is_some())
    }

    fn position(name: &str) -> usize {
        STR_COLUMNS
            .iter()
            .position(|n| *n == name)
            .expect("a column of STR_COLUMNS")
    }

    /// Every fingerprint of the segment, by ordinal, in one pass over the column's dictionary:
    /// for a reader of every event, to whom a look-up per event decompressed a block of the
    /// dictionary each time.
    pub(crate) fn fingerprints(&self) -> std::io::Result<Vec<String>> {
        let Some(column) = &self.strs[Self::position("fingerprint")] else {
            return Ok(Vec::new());
        };
        let mut names = Vec::with_capacity(column.num_terms());
        let mut terms = column.dictionary().stream()?;
        while terms.advance() {
            names.push(String::from_utf8_lossy(terms.key()).into_owned());
        }
        Ok(names)
    }

    /// The group `doc` is indexed under: its fingerprint, named from [`Self::fingerprints`],
    /// and its grouping version.
    pub(crate) fn group(&self, doc: DocId, fingerprints: &[String]) -> (String, Option<u32>) {
        let fingerprint = self.strs[Self::position("fingerprint")]
            .as_ref()
            .and_then(|column| column.ords().first(doc))
            .and_then(|ord| fingerprints.get(ord as usize).cloned())
            .unwrap_or_default();
        let version = self.grouping_version.first(doc).map(|v| v as u32);
        (fingerprint, version)
    }

    /// The value of string column `name` for `doc`, if it has one.
    pub(crate) fn str(&self, name: &str, doc: DocId) -> Option<String> {
        let column = self.strs[Self::position(name)].as_ref()?;
        let ord = column.ords().first(doc)?;
        let mut out = String::new();
        column.ord_to_str(ord, &mut out).ok()?.then_some(out)
    }
}

fn text(doc: &TantivyDocument, field: Field) -> Option<String> {
    doc.get_first(field)
        .and_then(|v| v.as_str())
        .map(str::to_owned)
}

pub fn stored_event(
    f: &Fields,
    doc: &TantivyDocument,
    columns: &EventColumns,
    at: DocId,
) -> StoredEvent {
    let ReadBack {
        mut stored,
        to_find,
    } = read_back(f, doc, columns, at);
    if to_find {
        let key = (columns.segment, at);
        let found = match FOUND.get(&key) {
            Some(found) => found.as_deref().cloned(),
            None => {
                let fingerprint = columns.str("fingerprint", at).unwrap_or_default();
                let version = columns.grouping_version.first(at).map(|v| v as u32);
                let found = found_again(&stored.event, fingerprint, version);
                FOUND.insert(key, found.clone().map(Arc::new));
                found
            }
        };
        stored.event.exception = found.map(Cow::Owned);
    }
    stored
}

/// An event read back, with its exception when it was stored.
pub(crate) struct ReadBack {
    pub stored: StoredEvent,
    /// The event was indexed with an exception that was not stored: it is to be found again.
    pub to_find: bool,
}

/// The event `at` as stored, its exception not found again (see [`stored_event`]).
pub(crate) fn read_back(
    f: &Fields,
    doc: &TantivyDocument,
    columns: &EventColumns,
    at: DocId,
) -> ReadBack {
    let (text, line, lines, message_at) = match text(doc, f.text) {
        Some(text) => (
            text,
            columns.line.first(at).unwrap_or(0),
            columns.lines.first(at).unwrap_or(0) as u32,
            columns.message_at.first(at),
        ),
        None => columns
            .kept_text(at)
            .map_or_else(Default::default, |entry| {
                (entry.text, entry.line, entry.lines, entry.message_at)
            }),
    };
    let message = match message_at {
        Some(start) => message_from(&text, start as usize).map(str::to_owned),
        None => self::text(doc, f.message),
    }
    .unwrap_or_default();
    let flags = columns.flags.first(at).unwrap_or(0);
    let stored = doc
        .get_first(f.exception)
        .and_then(|v| v.as_str())
        .and_then(|json| serde_json::from_str::<Exception>(json).ok());
    let column = |name| columns.str(name, at);
    let grouped = stored.is_none() && columns.has("fingerprint", at);
    // A pattern is a function of the message alone: its template is computed again, not
    // stored, and only for an event without an exception. Its id is the one indexed, which
    // queries and listings go by (the same unless the pattern rules changed since; `regroup`
    // brings it up to date).
    let pattern = (stored.is_none() && !grouped).then(|| {
        let mut pattern = match self::text(doc, f.template) {
            // Made by the config's `[patterns]`, and kept.
            Some(template) => crate::event::Pattern {
                id: String::new(),
                template,
                custom: true,
            },
            None => {
                let format = column("format").unwrap_or_default();
                crate::fold::pattern::pattern(crate::fold::pattern::groupable(&message, &format))
            }
        };
        if let Some(id) = column("pattern") {
            pattern.id = id;
        }
        pattern
    });
    let file = column(super::files::FILE_FIELD).unwrap_or_default();
    let parts = super::files::decode(&file).unwrap_or_default();
    let part = |name| {
        let at = super::files::part(name).expect("a file part");
        parts[at].map(str::to_owned)
    };
    let meta = FileMeta {
        logtype: part("logtype"),
        app: part("app"),
        env: part("env"),
        tag: part("tag"),
        host: part("host"),
        date: part("date"),
    };
    let event = EventRecord {
        ts: columns.ts.first(at).map(from_date),
        level: column("level").as_deref().and_then(Level::from_word),
        logger: column("logger").map(Cow::Owned),
        thread: column("thread").map(Cow::Owned),
        message: Cow::Owned(message),
        source: Cow::Owned(part("source").unwrap_or_default()),
        line,
        meta: Cow::Owned(meta),
        offset: columns.ids.offset(at).unwrap_or(0),
        lines,
        format: Cow::Owned(column("format").unwrap_or_default()),
        text: Cow::Owned(text),
        truncated: flags & FLAG_TRUNCATED != 0,
        continued: flags & FLAG_CONTINUED != 0,
        pattern: pattern.map(Cow::Owned),
        exception: stored.map(Cow::Owned),
        fields: Cow::Owned(
            doc.get_first(f.fields)
                .and_then(|v| v.as_str())
                .and_then(|json| serde_json::from_str(json).ok())
                .unwrap_or_default(),
        ),
    };
    ReadBack {
        stored: StoredEvent {
            id: columns.ids.id(at).map(format_id).unwrap_or_default(),
            event,
        },
        to_find: grouped,
    }
}

/// An event: its segment and its document there.
type FoundKey = (SegmentId, DocId);

/// Memory the exceptions found again may keep (estimated from their contents).
const FOUND_CAPACITY_BYTES: u64 = 16 << 20;

/// The exceptions found again, by segment and document: a segment never changes once
/// written, so neither does what its events' text says. The UI asks for the same events
/// again and again (a group list's newest events, a group's samples), and finding an
/// exception again takes tens of microseconds. `benches/load.sh` on 30 k groups: 1,742
/// requests/s without this (and with a dictionary look-up of each fingerprint), 2,499/s with
/// it, as many as when exceptions were stored (2,464/s).
static FOUND: LazyLock<Cache<FoundKey, Option<Arc<Exception>>, ByBytes>> = LazyLock::new(|| {
    Cache::with_weighter(
        FOUND_CAPACITY_BYTES as usize / 1024,
        FOUND_CAPACITY_BYTES,
        ByBytes,
    )
});

#[derive(Clone)]
struct ByBytes;

impl quick_cache::Weighter<FoundKey, Option<Arc<Exception>>> for ByBytes {
    /// Twice the exception's JSON: its strings, and about as much for their headers.
    fn weight(&self, _: &FoundKey, found: &Option<Arc<Exception>>) -> u64 {
        let json = found
            .as_ref()
            .and_then(|x| serde_json::to_vec(x.as_ref()).ok())
            .map_or(0, |json| json.len());
        64 + 2 * json as u64
    }
}

/// The exception of the event `at`, read without the rest of the event when it can be: from
/// the docstore, or as found again before.
pub fn stored_exception(
    f: &Fields,
    doc: &TantivyDocument,
    columns: &EventColumns,
    at: DocId,
) -> Option<Exception> {
    if let Some(json) = doc.get_first(f.exception).and_then(|v| v.as_str()) {
        return serde_json::from_str(json).ok();
    }
    if let Some(found) = FOUND.get(&(columns.segment, at)) {
        return found.as_deref().cloned();
    }
    if !columns.has("fingerprint", at) {
        return None;
    }
    let event = stored_event(f, doc, columns, at).event;
    event.exception.map(Cow::into_owned)
}

/// The exception of an event indexed without one stored: found again in its text by the
/// standard analysis, which made it (see [`Exception::recomputable`]), under the group it is
/// indexed under, which queries and listings go by (the same unless the grouping changed
/// since; `regroup` brings it up to date).
pub(crate) fn found_again(
    record: &EventRecord<'_>,
    fingerprint: String,
    grouping_version: Option<u32>,
) -> Option<Exception> {
    static STANDARD: LazyLock<Analyzer> = LazyLock::new(Analyzer::standard);
    // The year and zone do not change what a trace says.
    let reading = Reading {
        zone: jiff::tz::TimeZone::UTC,
        assume_year: 1970,
        event_start: None,
    };
    let exception = analysed(record, &reading, &STANDARD).exception?;
    Some(indexed_under(exception, fingerprint, grouping_version))
}

/// `exception` under the group its event is indexed under.
pub(crate) fn indexed_under(
    mut exception: Exception,
    fingerprint: String,
    grouping_version: Option<u32>,
) -> Exception {
    exception.fingerprint = fingerprint;
    if let Some(version) = grouping_version {
        exception.grouping_version = version;
    }
    exception
}

/// How an event's text is read again: the zone and year of timestamps without them, and the
/// config's `event_start`, as the event was read the first time.
pub(crate) struct Reading {
    pub zone: jiff::tz::TimeZone,
    pub assume_year: i16,
    pub event_start: Option<Arc<regex::Regex>>,
}

/// `record` as an event, its text read again as `reading` says, its exception found and
/// fingerprinted by `analyzer` as if it were folded now.
pub(crate) fn analysed(record: &EventRecord<'_>, reading: &Reading, analyzer: &Analyzer) -> Event {
    let file = Arc::new(FileInfo {
        path: record.source.as_ref().into(),
        meta: record.meta.clone().into_owned(),
        date_ts: None,
    });
    // The text was cut at the caps it was folded with; it is not cut again.
    let uncapped = FoldSettings {
        max_event_lines: u32::MAX,
        max_event_bytes: usize::MAX,
    };
    let folder = LineFolder::new(&file, uncapped, reading.zone.clone(), reading.assume_year)
        .with_event_start(reading.event_start.clone());
    let refolded = crate::read::refold(folder, &record.text);
    let (stack_trace, detail) = refolded.map_or((None, None), |e| (e.stack_trace, e.detail));
    let text = record.text.clone().into_owned();
    let mut event = Event {
        ts: record.ts,
        level: record.level,
        logger: record.logger.clone().map(Cow::into_owned),
        thread: record.thread.clone().map(Cow::into_owned),
        message: record.message.clone().into_owned(),
        source: file,
        line: record.line,
        offset: record.offset,
        end_offset: record.offset + text.len() as u64 + 1,
        lines: record.lines,
        format: crate::parse::format_name(&record.format),
        text,
        truncated: record.truncated,
        continued: record.continued,
        stack_trace,
        detail,
        exception: None,
        pattern: None,
        fields: record.fields.clone().into_owned(),
    };
    analyzer.analyse(&mut event);
    event
}
