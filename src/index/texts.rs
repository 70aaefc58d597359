//! The events' text kept as chunks of their files' own text (issue 17), not in tantivy's
//! docstore.
//!
//! tantivy's docstore frames every document it stores: a field count, each value's field id,
//! type and length, and at the end of each compressed block every document's 4-byte offset.
//! For log events of a hundred bytes that framing compressed to about as much as a tenth of
//! the text itself. Here an event's text, with its line, its number of lines and where its
//! message starts, goes into a *chunk*: about [`CHUNK_BYTES`] of consecutive events' texts
//! in the order they were added, which is each file's own order. Each chunk is one document
//! of a small tantivy index of its own, `DATA/texts` (its number a column, its bytes stored and
//! compressed as the docstore compresses: zstd level 1 in 256 KiB blocks). The event keeps only
//! its chunk's number (`text_chunk`, a column) and is found in the chunk by the hash of its key
//! and its offset, which its id is made of (see [`event_id`](super::document::event_id)).
//!
//! A chunk is its entries' numbers, column by column, then their texts, each followed by a
//! line end, as the file had them (so the texts compress as the file does, and the numbers,
//! which mostly repeat, to almost nothing):
//!
//! ```text
//! chunk:    length of the numbers (varint), numbers, texts
//! numbers:  entries, runs, each run, then the columns (every entry's value of each in turn)
//! run:      its first entry (counted from the previous run's), key hash (u64, little-endian),
//!           offset, line
//! columns:  offset gap, line gap, lines, message start + 1 (0: none),
//!           length + 1 (0: the text is its lines, up to the line end after its last)
//! ```
//!
//! Every number but the key hash is a varint. An entry belongs to the run before it. Its offset is where the run expects the next event
//! (the last entry's offset plus its length and the line's end) plus its gap, its line the
//! last entry's line plus its lines plus its gap; so events of a file read in order have gaps
//! of 0, their numbers repeat, and a new run starts only when the file changes (or its offsets
//! go back).
//!
//! Chunks are committed before the events that name them: a crash between the two commits
//! leaves chunks no event names. Those, and the chunks whose events `prune` or `regroup`
//! deleted, are deleted when a writer opens and after a commit that deleted events
//! ([`TextWriter::retain`]); a chunk is kept while one live event names it.

use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex};

use quick_cache::sync::Cache;
use tantivy::directory::MmapDirectory;
use tantivy::index::SegmentId;
use tantivy::query::doc_predicate_query::{DocPredicateQuery, FunctionPredicate};
use tantivy::schema::{BytesOptions, Field, NumericOptions, Schema, Value as _};
use tantivy::store::{Compressor, ZstdCompressor};
use tantivy::{DocAddress, DocId, Index, IndexReader, IndexWriter, ReloadPolicy, SegmentReader};
use tantivy::{Searcher, TantivyDocument};

use super::directory::ReadDirectory;
use crate::error::{Error, Result};

/// Where the texts index lives under the data directory.
pub fn texts_dir(data: &Path) -> PathBuf {
    data.join("texts")
}

/// The uncompressed size a chunk is closed at: two chunks to a docstore block, so reading
/// one event decompresses what reading it from the docstore did.
pub const CHUNK_BYTES: usize = 128 * 1024;

/// zstd level of the texts' blocks: 1, as the events' docstore's. Level 7 made them a tenth
/// smaller (36.4 against 40.1 MB on 300 MB of the generated corpus) for a seventh of
/// `stackfold index`'s CPU (issue 17, 1.5 GB: 46.1–47.5 s against 54.1–55.0 s, the index
/// 0.337× the raw logs against 0.325×). Level 1 became affordable once the file's values and
/// the traces were indexed once: the index stays under 0.35× the raw logs, the real ones too.
const TEXT_ZSTD_LEVEL: i32 = 1;

/// Heap of the texts' writer: the least tantivy takes; a chunk has no term to index.
const HEAP_BYTES: usize = 15 << 20;

#[derive(Debug, Clone, Copy)]
struct TextFields {
    /// The chunk's number: a column, read to find a chunk's document.
    chunk: Field,
    /// The chunk's records, stored.
    bytes: Field,
}

fn schema() -> (Schema, TextFields) {
    let mut b = Schema::builder();
    let fields = TextFields {
        chunk: b.add_u64_field("chunk", NumericOptions::default().set_fast()),
        bytes: b.add_bytes_field("bytes", BytesOptions::default().set_stored()),
    };
    (b.build(), fields)
}

fn open_in<D: tantivy::Directory>(
    data: &Path,
    directory: impl FnOnce(
        &Path,
    ) -> std::result::Result<D, tantivy::directory::error::OpenDirectoryError>,
) -> Result<(Index, TextFields)> {
    let (schema, fields) = schema();
    let settings = tantivy::IndexSettings {
        docstore_compression: Compressor::Zstd(ZstdCompressor {
            compression_level: Some(TEXT_ZSTD_LEVEL),
        }),
        docstore_blocksize: super::DOCSTORE_BLOCK_BYTES,
        ..Default::default()
    };
    let index = super::open_side_index(&texts_dir(data), schema, settings, "texts", directory)?;
    Ok((index, fields))
}

/// What an event's entry holds: where the event is and how its text reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry<T> {
    /// The hash of the event's file or stream key (see [`super::document::key_hash`]).
    pub key_hash: u64,
    pub offset: u64,
    pub line: u64,
    pub lines: u32,
    /// Where the message starts in the first line, when it ends it.
    pub message_at: Option<u64>,
    pub text: T,
}

/// Where the next event of a run is expected.
struct Run {
    key_hash: u64,
    offset: u64,
    line: u64,
}

/// The numbers of a chunk's entries, column by column: offset gap, line gap, lines, message
/// start, length.
const COLUMNS: usize = 5;

/// Writes events' texts into chunks; what [`super::EventWriter`] commits before its events.
pub struct TextWriter {
    writer: IndexWriter,
    fields: TextFields,
    /// The number of the chunk being filled.
    next: u64,
    /// Its entries, its runs and the entry each run starts at, its columns and texts.
    entries: u64,
    runs: (u64, Vec<u8>),
    last_run_at: u64,
    columns: [Vec<u8>; COLUMNS],
    texts: Vec<u8>,
    run: Option<Run>,
    uncommitted: bool,
}

impl TextWriter {
    /// The writer of the texts index under `data`, created if needed.
    pub fn open(data: &Path) -> Result<TextWriter> {
        let (index, fields) = open_in(data, |dir| MmapDirectory::open(dir))?;
        let writer = index
            .writer_with_num_threads(1, HEAP_BYTES)
            .map_err(Error::Index)?;
        let searcher = index.reader().map_err(Error::Index)?.searcher();
        // Past every chunk there is, deleted ones too, so a number is never given twice.
        let mut next = 0;
        for segment in searcher.segment_readers() {
            let column = segment.fast_fields().u64("chunk").map_err(Error::Index)?;
            if segment.max_doc() > 0 {
                next = next.max(column.max_value() + 1);
            }
        }
        Ok(TextWriter {
            writer,
            fields,
            next,
            entries: 0,
            runs: (0, Vec::new()),
            last_run_at: 0,
            columns: Default::default(),
            texts: Vec::with_capacity(CHUNK_BYTES + 4096),
            run: None,
            uncommitted: false,
        })
    }

    /// Adds `entry`; returns the number of the chunk it is in.
    pub fn add(&mut self, entry: &Entry<&str>) -> Result<u64> {
        let continues = self.run.as_ref().filter(|run| {
            run.key_hash == entry.key_hash && entry.offset >= run.offset && entry.line >= run.line
        });
        let (offset_gap, line_gap) = match continues {
            Some(run) => (entry.offset - run.offset, entry.line - run.line),
            None => {
                let (count, runs) = &mut self.runs;
                *count += 1;
                put_varint(runs, self.entries - self.last_run_at);
                self.last_run_at = self.entries;
                runs.extend_from_slice(&entry.key_hash.to_le_bytes());
                put_varint(runs, entry.offset);
                put_varint(runs, entry.line);
                (0, 0)
            }
        };
        let text = entry.text.as_bytes();
        let ends = memchr::memchr_iter(b'\n', text).count() as u64;
        let length = if u64::from(entry.lines) == ends + 1 {
            0
        } else {
            text.len() as u64 + 1
        };
        let values = [
            offset_gap,
            line_gap,
            u64::from(entry.lines),
            entry.message_at.map_or(0, |at| at + 1),
            length,
        ];
        for (column, value) in self.columns.iter_mut().zip(values) {
            put_varint(column, value);
        }
        self.entries += 1;
        self.texts.extend_from_slice(text);
        self.texts.push(b'\n');
        self.run = Some(Run {
            key_hash: entry.key_hash,
            offset: entry.offset + entry.text.len() as u64 + 1,
            line: entry.line + u64::from(entry.lines),
        });
        let chunk = self.next;
        if self.texts.len() >= CHUNK_BYTES {
            self.close_chunk()?;
        }
        Ok(chunk)
    }

    /// Hands the chunk being filled to tantivy; the next entry starts a new one.
    fn close_chunk(&mut self) -> Result<()> {
        if self.entries == 0 {
            return Ok(());
        }
        let mut numbers = Vec::with_capacity(20 + self.runs.1.len() + 2 * self.texts.len() / 64);
        put_varint(&mut numbers, self.entries);
        put_varint(&mut numbers, self.runs.0);
        numbers.extend_from_slice(&self.runs.1);
        for column in &self.columns {
            numbers.extend_from_slice(column);
        }
        let mut bytes = Vec::with_capacity(10 + numbers.len() + self.texts.len());
        put_varint(&mut bytes, numbers.len() as u64);
        bytes.extend_from_slice(&numbers);
        bytes.extend_from_slice(&self.texts);
        let mut doc = TantivyDocument::default();
        doc.add_u64(self.fields.chunk, self.next);
        doc.add_bytes(self.fields.bytes, &bytes);
        self.writer.add_document(doc).map_err(Error::Index)?;
        self.entries = 0;
        self.runs.0 = 0;
        self.runs.1.clear();
        self.last_run_at = 0;
        self.columns.iter_mut().for_each(Vec::clear);
        self.texts.clear();
        self.run = None;
        self.next += 1;
        self.uncommitted = true;
        Ok(())
    }

    /// Makes the texts added so far durable.
    pub fn commit(&mut self) -> Result<()> {
        self.close_chunk()?;
        if self.uncommitted {
            self.writer.commit().map_err(Error::Index)?;
            self.uncommitted = false;
        }
        Ok(())
    }

    /// Deletes the chunks whose numbers are not in `named` (the chunks the live events name)
    /// and commits; returns how many there were. Call it with nothing added since the last
    /// commit.
    pub fn retain(&mut self, named: HashSet<u64>) -> Result<u64> {
        let named = Arc::new(named);
        let searcher = self
            .writer
            .index()
            .reader()
            .map_err(Error::Index)?
            .searcher();
        let mut unnamed = 0;
        for segment in searcher.segment_readers() {
            let column = segment.fast_fields().u64("chunk").map_err(Error::Index)?;
            unnamed += segment
                .doc_ids_alive()
                .filter(|&doc| column.first(doc).is_some_and(|c| !named.contains(&c)))
                .count() as u64;
        }
        if unnamed == 0 {
            return Ok(0);
        }
        let predicate = FunctionPredicate::from(move |segment: &SegmentReader| {
            let column = segment.fast_fields().u64("chunk")?;
            let named = Arc::clone(&named);
            Ok(move |doc: DocId| column.first(doc).is_some_and(|c| !named.contains(&c)))
        });
        let query: DocPredicateQuery = predicate.into();
        self.writer
            .delete_query(Box::new(query))
            .map_err(Error::Index)?;
        self.writer.commit().map_err(Error::Index)?;
        Ok(unnamed)
    }

    /// Waits for the texts index's merges.
    pub fn wait_merging_threads(self) -> Result<()> {
        self.writer.wait_merging_threads().map_err(Error::Index)
    }
}

/// Reads events' texts from their chunks.
pub struct TextStore {
    index: Index,
    reader: IndexReader,
    /// Each segment's chunks, by number: a segment never changes.
    located: Mutex<HashMap<SegmentId, Arc<Located>>>,
    /// Set for a scan (see [`TextStore::for_scanning`]): the one chunk it read last.
    scanning: Option<Mutex<Option<KeptChunk>>>,
}

/// A chunk's document.
type ChunkKey = (SegmentId, DocId);

/// A chunk read and its document.
type KeptChunk = (ChunkKey, Arc<Chunk>);

/// A segment's chunks: (number, document), sorted.
type Located = Vec<(u64, DocId)>;

/// An entry read, its text as a range of its chunk.
type EntryAt = Entry<Range<u32>>;

/// A chunk read, its entries by key hash and offset.
struct Chunk {
    bytes: Vec<u8>,
    /// Sorted by key hash, offset and then as written.
    entries: Vec<EntryAt>,
}

/// The chunks read last, by their document: the events shown together (a page of results, a
/// group's samples) were mostly added together, and the UI asks for them again and again.
static CHUNKS: LazyLock<Cache<ChunkKey, Arc<Chunk>, ByBytes>> =
    LazyLock::new(|| Cache::with_weighter(256, CHUNKS_CAPACITY_BYTES, ByBytes));

/// The memory the chunks read may keep.
const CHUNKS_CAPACITY_BYTES: u64 = 128 << 20;

#[derive(Clone)]
struct ByBytes;

impl quick_cache::Weighter<ChunkKey, Arc<Chunk>> for ByBytes {
    fn weight(&self, _: &ChunkKey, chunk: &Arc<Chunk>) -> u64 {
        (chunk.bytes.len() + chunk.entries.len() * size_of::<EntryAt>()) as u64
    }
}

impl TextStore {
    /// The texts index under `data`, for a server's reading (created empty if missing).
    pub fn open_for_reading(data: &Path) -> Result<TextStore> {
        let (index, _) = open_in(data, ReadDirectory::open)?;
        Self::new(index)
    }

    /// The texts index under `data`, if there is one.
    pub fn open(data: &Path) -> Result<Option<TextStore>> {
        if !texts_dir(data).join("meta.json").exists() {
            return Ok(None);
        }
        let (index, _) = open_in(data, |dir| MmapDirectory::open(dir))?;
        Self::new(index).map(Some)
    }

    fn new(index: Index) -> Result<TextStore> {
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(Error::Index)?;
        Ok(TextStore {
            index,
            reader,
            located: Mutex::default(),
            scanning: None,
        })
    }

    /// For reading every event once, segment by segment, as `regroup` does: its events come
    /// chunk after chunk, so the store keeps only the chunk it read last instead of filling
    /// the chunks kept for the UI (with them, `regroup --dry-run` of 30 k groups peaked at
    /// 315 MiB of RSS; with one chunk, 123 MiB).
    pub fn for_scanning(mut self) -> TextStore {
        self.scanning = Some(Mutex::default());
        self
    }

    /// The texts index.
    pub fn index(&self) -> &Index {
        &self.index
    }

    /// How many live events of `events` name a chunk this texts index does not hold: their
    /// text is lost (what `stackfold check` looks for).
    pub fn events_without_text(&self, events: &Searcher) -> tantivy::Result<u64> {
        self.reader.reload()?;
        let mut held = HashSet::new();
        for segment in self.reader.searcher().segment_readers() {
            held.extend(self.located(segment)?.iter().map(|(chunk, _)| *chunk));
        }
        let mut missing = 0;
        for segment in events.segment_readers() {
            let column = segment.fast_fields().u64("text_chunk")?;
            missing += segment
                .doc_ids_alive()
                .filter(|&doc| column.first(doc).is_some_and(|c| !held.contains(&c)))
                .count() as u64;
        }
        Ok(missing)
    }

    /// The entry of the event at `offset` of the file or stream whose key hashes to
    /// `key_hash`, in chunk `chunk`; `None` when the chunk has no such entry or is gone (its
    /// events were deleted since the caller's view of them).
    pub fn get(
        &self,
        chunk: u64,
        key_hash: u64,
        offset: u64,
    ) -> tantivy::Result<Option<Entry<String>>> {
        let searcher = self.reader.searcher();
        let mut found = self.find(&searcher, chunk)?;
        if found.is_none() {
            // Committed after this reader last looked: chunks are committed before the
            // events that name them, so looking again finds it.
            self.reader.reload()?;
            found = self.find(&self.reader.searcher(), chunk)?;
        }
        Ok(found.and_then(|chunk| chunk.entry(key_hash, offset)))
    }

    fn find(&self, searcher: &Searcher, chunk: u64) -> tantivy::Result<Option<Arc<Chunk>>> {
        for (ord, segment) in searcher.segment_readers().iter().enumerate() {
            let located = self.located(segment)?;
            let Ok(at) = located.binary_search_by_key(&chunk, |(number, _)| *number) else {
                continue;
            };
            let doc = located[at].1;
            let key = (segment.segment_id(), doc);
            let mut last = self
                .scanning
                .as_ref()
                .map(|last| last.lock().unwrap_or_else(|e| e.into_inner()));
            let kept = match &last {
                Some(last) => last
                    .as_ref()
                    .filter(|(k, _)| *k == key)
                    .map(|(_, c)| c.clone()),
                None => CHUNKS.get(&key),
            };
            if let Some(chunk) = kept {
                return Ok(Some(chunk));
            }
            let stored: TantivyDocument = searcher.doc(DocAddress::new(ord as u32, doc))?;
            let bytes = stored
                .field_values()
                .find_map(|(_, value)| value.as_bytes().map(<[u8]>::to_vec))
                .unwrap_or_default();
            let chunk = Arc::new(Chunk::parse(bytes));
            match &mut last {
                Some(last) => **last = Some((key, chunk.clone())),
                None => CHUNKS.insert(key, chunk.clone()),
            }
            return Ok(Some(chunk));
        }
        Ok(None)
    }

    fn located(&self, segment: &SegmentReader) -> tantivy::Result<Arc<Located>> {
        let id = segment.segment_id();
        let mut located = self.located.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(found) = located.get(&id) {
            return Ok(found.clone());
        }
        let column = segment.fast_fields().u64("chunk")?;
        let mut chunks: Vec<(u64, DocId)> = segment
            .doc_ids_alive()
            .filter_map(|doc| Some((column.first(doc)?, doc)))
            .collect();
        chunks.sort_unstable();
        let chunks = Arc::new(chunks);
        // Segments merged away are forgotten as new ones come.
        if located.len() > 4096 {
            located.clear();
        }
        located.insert(id, chunks.clone());
        Ok(chunks)
    }
}

impl Chunk {
    /// Reads the entries of `bytes`; those a damaged chunk does not hold whole are left out.
    fn parse(bytes: Vec<u8>) -> Chunk {
        let mut entries = read_entries(&bytes).unwrap_or_else(|read| read);
        // Stable: of entries under the same key and offset, the one written last stays last.
        entries.sort_by_key(|entry| (entry.key_hash, entry.offset));
        Chunk { bytes, entries }
    }

    fn entry(&self, key_hash: u64, offset: u64) -> Option<Entry<String>> {
        // The last written of entries under the same key and offset (a file read again).
        let after = self
            .entries
            .partition_point(|e| (e.key_hash, e.offset) <= (key_hash, offset));
        let entry = self.entries.get(after.checked_sub(1)?)?;
        if (entry.key_hash, entry.offset) != (key_hash, offset) {
            return None;
        }
        let text = &self.bytes[entry.text.start as usize..entry.text.end as usize];
        Some(Entry {
            key_hash,
            offset,
            line: entry.line,
            lines: entry.lines,
            message_at: entry.message_at,
            text: String::from_utf8_lossy(text).into_owned(),
        })
    }
}

/// The entries of a chunk in the order written, their texts as ranges of it; `Err` with
/// those read whole when the chunk is damaged.
fn read_entries(bytes: &[u8]) -> std::result::Result<Vec<EntryAt>, Vec<EntryAt>> {
    let mut entries = Vec::new();
    let mut at = 0;
    let next = |at: &mut usize| -> Option<u64> {
        let (value, len) = get_varint(bytes.get(*at..)?)?;
        *at += len;
        Some(value)
    };
    let Some(numbers_len) = next(&mut at) else {
        return Err(entries);
    };
    let numbers_end = at.saturating_add(numbers_len as usize).min(bytes.len());
    let (Some(count), Some(run_count)) = (next(&mut at), next(&mut at)) else {
        return Err(entries);
    };
    let mut runs = Vec::new();
    let mut run_at = 0u64;
    for _ in 0..run_count.min(count) {
        let Some(starts) = next(&mut at) else {
            return Err(entries);
        };
        let Some(key) = bytes.get(at..at + 8) else {
            return Err(entries);
        };
        let key_hash = u64::from_le_bytes(key.try_into().expect("8 bytes"));
        at += 8;
        let (Some(offset), Some(line)) = (next(&mut at), next(&mut at)) else {
            return Err(entries);
        };
        run_at += starts;
        runs.push((
            run_at,
            Run {
                key_hash,
                offset,
                line,
            },
        ));
    }
    let count = count.min((numbers_end - at.min(numbers_end)) as u64) as usize;
    let mut columns: [Vec<u64>; COLUMNS] = Default::default();
    for column in &mut columns {
        column.reserve(count);
        for _ in 0..count {
            match next(&mut at).filter(|_| at <= numbers_end) {
                Some(value) => column.push(value),
                None => break,
            }
        }
    }
    let whole = columns.iter().map(Vec::len).min().unwrap_or(0);
    let mut text_at = numbers_end;
    let mut runs = runs.into_iter().peekable();
    let mut run: Option<Run> = None;
    for i in 0..whole {
        if let Some((_, starting)) = runs.next_if(|(start, _)| *start == i as u64) {
            run = Some(starting);
        }
        let [offset_gap, line_gap, lines, message_at, length] = columns.each_ref().map(|c| c[i]);
        let Some(entry) = (|| {
            let lines = u32::try_from(lines).ok()?;
            let rest = bytes.get(text_at..)?;
            let len = match length.checked_sub(1) {
                Some(len) => usize::try_from(len).ok().filter(|&n| n < rest.len())?,
                // Its lines: up to the line end after its last.
                None => memchr::memchr_iter(b'\n', rest).nth(lines.checked_sub(1)? as usize)?,
            };
            let run = run.as_mut()?;
            let offset = run.offset.checked_add(offset_gap)?;
            let line = run.line.checked_add(line_gap)?;
            run.offset = offset + len as u64 + 1;
            run.line = line + u64::from(lines);
            let start = u32::try_from(text_at).ok()?;
            let end = u32::try_from(text_at + len).ok()?;
            text_at += len + 1;
            Some(Entry {
                key_hash: run.key_hash,
                offset,
                line,
                lines,
                message_at: message_at.checked_sub(1),
                text: start..end,
            })
        })() else {
            return Err(entries);
        };
        entries.push(entry);
    }
    if whole < count {
        return Err(entries);
    }
    Ok(entries)
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push(value as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// A varint and how many bytes it took.
fn get_varint(bytes: &[u8]) -> Option<(u64, usize)> {
    let mut value = 0u64;
    for (i, &byte) in bytes.iter().enumerate().take(10) {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte < 0x80 {
            return Some((value, i + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(key_hash: u64, offset: u64, line: u64, text: &str) -> Entry<&str> {
        Entry {
            key_hash,
            offset,
            line,
            lines: text.split('\n').count() as u32,
            message_at: Some(4),
            text,
        }
    }

    /// Every entry is read back as written, whichever file it came from and however its
    /// offsets and lines follow; chunk numbers go on after a reopen; a chunk no live event
    /// names is deleted and one that is named kept.
    #[test]
    fn every_text_is_read_back_as_written() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = TextWriter::open(dir.path()).unwrap();
        let long = "x".repeat(CHUNK_BYTES / 2);
        let written = [
            entry(1, 0, 1, "INFO first"),
            entry(1, 11, 2, "WARN second\n  at a.b(C.java:1)"),
            // Another file between two of the first's: a new run each time.
            entry(2, 0, 1, "ERROR other"),
            entry(1, 42, 3, "INFO third"),
            // A gap (a skipped line) and a file read again from the start.
            entry(1, 100, 9, &long),
            entry(1, 0, 1, "INFO first, again"),
            entry(2, 12, 2, &long),
            entry(3, 5, 2, ""),
            entry(3, 6, 3, "é ü \u{1F600}"),
            // Lines that are not the text's (a shipped event's): kept by its length.
            Entry {
                lines: 1,
                ..entry(3, 20, 4, "two\nlines\n")
            },
            entry(2, 7000, 50, &long),
        ];
        let mut chunks = Vec::new();
        for e in &written {
            chunks.push(writer.add(e).unwrap());
        }
        writer.commit().unwrap();
        assert!(chunks.windows(2).all(|w| w[0] <= w[1]));
        assert!(chunks.last() > chunks.first(), "{chunks:?}");
        let stores = [
            TextStore::open(dir.path()).unwrap().unwrap(),
            // A scan keeps only the chunk it read last: read forwards, then backwards.
            TextStore::open(dir.path()).unwrap().unwrap().for_scanning(),
        ];
        for store in &stores {
            for n in (0..written.len()).chain((0..written.len()).rev()) {
                let (e, chunk) = (&written[n], chunks[n]);
                let read = store.get(chunk, e.key_hash, e.offset).unwrap();
                // The first entry was written again under the same key and offset, in the
                // same chunk: the one written last is read.
                let e = if n == 0 { &written[5] } else { e };
                let expected = Entry {
                    key_hash: e.key_hash,
                    offset: e.offset,
                    line: e.line,
                    lines: e.lines,
                    message_at: e.message_at,
                    text: e.text.to_owned(),
                };
                assert_eq!(read, Some(expected), "{n}: {e:?}");
            }
        }
        let store = &stores[0];
        assert_eq!(chunks[0], chunks[5]);
        assert_eq!(store.get(chunks[0], 1, 1).unwrap(), None);
        assert_eq!(store.get(chunks[0], 9, 0).unwrap(), None);

        drop(writer);
        let mut writer = TextWriter::open(dir.path()).unwrap();
        let later = writer.add(&entry(4, 0, 1, "INFO later")).unwrap();
        writer.commit().unwrap();
        assert!(later > *chunks.last().unwrap());
        // Read by the same store: it looks again for a chunk it has not seen.
        let read = store.get(later, 4, 0).unwrap().unwrap();
        assert_eq!(read.text, "INFO later");

        let named: HashSet<u64> = [chunks[0], later].into();
        let unnamed = chunks.iter().collect::<HashSet<_>>().len() as u64 - 1;
        assert_eq!(writer.retain(named.clone()).unwrap(), unnamed);
        assert_eq!(writer.retain(named).unwrap(), 0);
        let store = TextStore::open(dir.path()).unwrap().unwrap();
        assert!(store.get(chunks[0], 1, 11).unwrap().is_some());
        assert!(store.get(later, 4, 0).unwrap().is_some());
        assert_eq!(store.get(*chunks.last().unwrap(), 2, 7000).unwrap(), None);
    }

    #[test]
    fn a_damaged_chunk_gives_the_entries_before_the_damage() {
        // Two entries, one run.
        let mut numbers = vec![2, 1, 0];
        numbers.extend_from_slice(&7u64.to_le_bytes());
        put_varint(&mut numbers, 0);
        put_varint(&mut numbers, 1);
        // Offset gaps, line gaps, lines, message starts; one entry by its line, one by its
        // length.
        numbers.extend([0, 0, 0, 0, 1, 1, 0, 0, 0, 3]);
        let mut bytes = vec![numbers.len() as u8];
        bytes.extend(numbers);
        // The second entry's text cut short.
        bytes.extend(b"a\nb");
        let chunk = Chunk::parse(bytes);
        assert_eq!(chunk.entry(7, 0).unwrap().text, "a");
        assert_eq!(chunk.entry(7, 2), None);
    }
}
