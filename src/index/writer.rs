//! Adding events to the index, with each file's checkpoint advancing in the same commit.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use tantivy::query::RangeQuery;
use tantivy::query::doc_predicate_query::{DocPredicateQuery, FunctionPredicate};
use tantivy::schema::Term;
use tantivy::{DocId, Index, IndexWriter, SegmentReader};

use super::blocks::BlockWriter;
use super::checkpoint::{Checkpoints, FileCheckpoint, PendingLine};
use super::document::EventDocument;
use super::schema::{Fields, to_date};
use super::stored::EventIds;
use super::texts::TextWriter;
use crate::error::{Error, Result};
use crate::event::Event;

/// The text a commit must have for its texts to go into chunks (see [`EventWriter::pending`]):
/// the texts index's commit is then a few percent of the commit's work.
const TEXTS_AT_LEAST: usize = 1 << 20;

/// Smallest heap tantivy accepts per indexing thread.
const MIN_HEAP_PER_THREAD: usize = 15 << 20;

/// The index writer and the checkpoints of the documents it holds.
pub struct EventWriter {
    writer: IndexWriter<Box<EventDocument>>,
    fields: Fields,
    checkpoints: Checkpoints,
    /// Decoded bytes of events added since the last commit.
    uncommitted_bytes: u64,
    uncommitted_events: u64,
    /// The batch of the documents added since the last commit (see [`Fields::ingested`]).
    batch: u64,
    /// Checkpoints changed since the last commit (with or without documents).
    dirty: bool,
    /// Where exception events' frame blocks go, indexed once; without it, they stay in the
    /// events' bodies.
    blocks: Option<BlockWriter>,
    /// The `file` term of the last file whose events were added.
    files: super::files::FileTerms,
    /// Where events' texts go (see [`super::texts`]); without it, they are stored in the
    /// events' index.
    texts: Option<TextWriter>,
    /// Events were deleted since the last commit: the chunks only they named are to go.
    deleted: bool,
    /// Documents whose texts wait, and their bytes: a commit of the texts index costs about as
    /// much as one of the events' (12 ms here, its files synced), so a commit of less than
    /// [`TEXTS_AT_LEAST`] of text keeps its texts in the events' docstore (shippers' small
    /// requests, a quiet file under `tail`), and from there on every text of the commit goes
    /// into chunks.
    #[expect(clippy::vec_box, reason = "they go on to tantivy's writer boxed")]
    pending: Vec<Box<EventDocument>>,
    pending_bytes: usize,
    /// This commit's texts go into chunks.
    chunked: bool,
}

impl EventWriter {
    /// A writer with `heap_bytes` of indexing memory over `threads` threads (fewer if the
    /// heap is too small for that many), continuing from the last commit's checkpoints.
    pub fn open(index: &Index, fields: Fields, heap_bytes: usize, threads: usize) -> Result<Self> {
        let threads = threads.clamp(1, (heap_bytes / MIN_HEAP_PER_THREAD).max(1));
        let heap = heap_bytes.max(MIN_HEAP_PER_THREAD * threads);
        let writer = index
            .writer_with_num_threads(threads, heap)
            .map_err(index_error)?;
        let payload = index.load_metas().map_err(index_error)?.payload;
        let checkpoints =
            Checkpoints::from_payload(payload.as_deref()).map_err(Error::Checkpoints)?;
        Ok(EventWriter {
            writer,
            fields,
            checkpoints,
            uncommitted_bytes: 0,
            uncommitted_events: 0,
            batch: next_batch(0),
            dirty: false,
            blocks: None,
            files: super::files::FileTerms::default(),
            texts: None,
            deleted: false,
            pending: Vec::new(),
            pending_bytes: 0,
            chunked: false,
        })
    }

    /// The same writer, indexing each distinct frame block once in the blocks index under
    /// `data` (see [`super::blocks`]) and keeping events' texts in the texts index there (see
    /// [`super::texts`]): how every command writes; tests may leave it out. Chunks of text no
    /// committed event names (a crash between the two commits leaves some) are deleted.
    pub fn with_stores(mut self, data: &Path) -> Result<Self> {
        self.blocks = Some(BlockWriter::open(data)?);
        self.texts = Some(TextWriter::open(data)?);
        self.retain_texts()?;
        Ok(self)
    }

    /// Deletes the chunks of text that no live event of the last commit names.
    fn retain_texts(&mut self) -> Result<()> {
        let Some(texts) = &mut self.texts else {
            return Ok(());
        };
        let searcher = self
            .writer
            .index()
            .reader()
            .map_err(index_error)?
            .searcher();
        let mut named = HashSet::new();
        for segment in searcher.segment_readers() {
            let column = segment
                .fast_fields()
                .u64("text_chunk")
                .map_err(index_error)?;
            named.extend(segment.doc_ids_alive().filter_map(|doc| column.first(doc)));
        }
        let deleted = texts.retain(named)?;
        if deleted > 0 {
            tracing::debug!(chunks = deleted, "deleted chunks of text no event names");
        }
        Ok(())
    }

    /// Adds `doc`, its frame block and its trace to the blocks index if it has ones not
    /// indexed yet, its text to the texts index.
    fn add_document(&mut self, mut doc: Box<EventDocument>) -> Result<()> {
        match &mut self.blocks {
            Some(blocks) => {
                doc.take_block(blocks)?;
                doc.take_trace(blocks)?;
            }
            None => doc.keep_frames(),
        }
        if let Some(texts) = &mut self.texts {
            if self.chunked {
                doc.write_text(texts)?;
            } else {
                self.pending_bytes += doc.text_len();
                self.pending.push(doc);
                if self.pending_bytes >= TEXTS_AT_LEAST {
                    self.add_pending(true)?;
                    self.chunked = true;
                }
                return Ok(());
            }
        }
        self.writer.add_document(doc).map_err(index_error)?;
        Ok(())
    }

    /// Adds the documents waiting for a chunk, their texts in one (`chunked`) or left in the
    /// docstore.
    fn add_pending(&mut self, chunked: bool) -> Result<()> {
        let Some(texts) = &mut self.texts else {
            return Ok(());
        };
        if self.pending.is_empty() {
            return Ok(());
        }
        for mut doc in self.pending.drain(..) {
            if chunked {
                doc.write_text(texts)?;
            }
            self.writer.add_document(doc).map_err(index_error)?;
        }
        self.pending_bytes = 0;
        Ok(())
    }

    /// The checkpoints as of the last commit plus what was added since.
    pub fn checkpoints(&self) -> &Checkpoints {
        &self.checkpoints
    }

    /// See [`Checkpoints::begin_file`].
    pub fn begin_file(&mut self, key: &str, from: FileCheckpoint) {
        self.dirty = true;
        self.checkpoints.begin_file(key, from);
    }

    /// Adds `event` of the file `key` and moves the file's checkpoint past it.
    pub fn add(&mut self, key: &str, event: Event) -> Result<()> {
        self.checkpoints.advance(key, &event);
        self.uncommitted_bytes += event.end_offset - event.offset;
        self.uncommitted_events += 1;
        self.dirty = true;
        let doc = EventDocument::new_in(&self.fields, event, key, self.batch, &mut self.files);
        self.add_document(doc)?;
        Ok(())
    }

    /// Adds `event` of the stream `key`, indexed under the ids of the shipped documents it
    /// holds, and moves the stream's position past it.
    pub fn add_shipped(&mut self, key: &str, event: Event, ids: &[String]) -> Result<()> {
        let stream = self.checkpoints.streams.entry(key.to_owned()).or_default();
        stream.offset = event.end_offset;
        stream.line = event.line + u64::from(event.lines) - 1;
        stream.events += 1;
        stream.updated = now_secs();
        self.uncommitted_bytes += event.end_offset - event.offset;
        self.uncommitted_events += 1;
        self.dirty = true;
        let doc = EventDocument::new_in(&self.fields, event, key, self.batch, &mut self.files)
            .with_doc_ids(ids);
        self.add_document(doc)?;
        Ok(())
    }

    /// Records where the stream `key` comes from (its shipped path and metadata), and
    /// returns its position: where a stream seen before goes on.
    pub fn describe_stream(
        &mut self,
        key: &str,
        path: Option<String>,
        meta: crate::event::FileMeta,
    ) -> (u64, u64) {
        let stream = self.checkpoints.streams.entry(key.to_owned()).or_default();
        if stream.path != path || stream.meta != meta {
            stream.path = path;
            stream.meta = meta;
            stream.updated = now_secs();
            self.dirty = true;
        }
        (stream.offset, stream.line)
    }

    /// The open lines of the stream `key`, written with the next commit.
    pub fn set_pending(&mut self, key: &str, pending: Vec<PendingLine>) {
        let stream = self.checkpoints.streams.entry(key.to_owned()).or_default();
        if stream.pending != pending {
            stream.pending = pending;
            stream.updated = now_secs();
            self.dirty = true;
        }
    }

    /// See [`Checkpoints::end_file`].
    pub fn end_file(&mut self, key: &str, complete: bool) {
        self.dirty = true;
        self.checkpoints.end_file(key, complete);
    }

    /// The checkpoint of `key`, to update what identifies the file (its path after a
    /// rename, its head as it grows); progress moves only through [`EventWriter::add`].
    pub fn checkpoint_mut(&mut self, key: &str) -> Option<&mut FileCheckpoint> {
        self.dirty = true;
        self.checkpoints.file_mut(key)
    }

    /// Drops the streams whose keys start with `prefix`, have no open lines and have not
    /// changed for `max_age_secs`; returns how many.
    pub fn forget_streams(&mut self, prefix: &str, max_age_secs: i64) -> usize {
        let cutoff = now_secs() - max_age_secs;
        let before = self.checkpoints.streams.len();
        self.checkpoints.streams.retain(|key, s| {
            !key.starts_with(prefix) || !s.pending.is_empty() || s.updated >= cutoff
        });
        let forgotten = before - self.checkpoints.streams.len();
        self.dirty |= forgotten > 0;
        forgotten
    }

    /// See [`Checkpoints::forget_gone`].
    pub fn forget_gone(&mut self, max_age_secs: i64, busy: &HashSet<String>) -> usize {
        let forgotten = self.checkpoints.forget_gone(max_age_secs, busy);
        self.dirty |= forgotten > 0;
        forgotten
    }

    /// Events added since the last commit.
    pub fn uncommitted_events(&self) -> u64 {
        self.uncommitted_events
    }

    /// Whether anything (documents or checkpoints) changed since the last commit.
    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// Decoded bytes added since the last commit.
    pub fn uncommitted_bytes(&self) -> u64 {
        self.uncommitted_bytes
    }

    /// Commits the documents added so far together with the checkpoints that describe them;
    /// returns the batch number they were indexed under.
    pub fn commit(&mut self) -> Result<u64> {
        // The texts left go into a chunk when the texts index is committed anyway.
        self.add_pending(self.chunked)?;
        self.chunked = false;
        // The blocks and texts first: an event committed is never without what it names.
        if let Some(blocks) = &mut self.blocks {
            blocks.commit()?;
        }
        if let Some(texts) = &mut self.texts {
            texts.commit()?;
        }
        let mut prepared = self.writer.prepare_commit().map_err(index_error)?;
        prepared.set_payload(&self.checkpoints.to_payload());
        prepared.commit().map_err(index_error)?;
        tracing::debug!(
            events = self.uncommitted_events,
            bytes = self.uncommitted_bytes,
            "committed"
        );
        self.uncommitted_bytes = 0;
        self.uncommitted_events = 0;
        self.dirty = false;
        if std::mem::take(&mut self.deleted) {
            self.retain_texts()?;
        }
        let committed = self.batch;
        self.batch = next_batch(committed);
        Ok(committed)
    }

    /// Deletes every event older than `cutoff` (and those without a time) at the next commit.
    pub fn delete_before(&mut self, cutoff: jiff::Timestamp) -> Result<()> {
        // What was added before is deleted too, as it would have been without texts waiting.
        self.add_pending(false)?;
        let upper = Term::from_field_date(self.fields.ts, to_date(cutoff));
        let query = RangeQuery::new(std::ops::Bound::Unbounded, std::ops::Bound::Excluded(upper));
        self.writer
            .delete_query(Box::new(query))
            .map_err(index_error)?;
        self.dirty = true;
        self.deleted = true;
        Ok(())
    }

    /// Deletes every event whose id is in `ids` at the next commit: the events re-grouping
    /// writes again (with [`EventWriter::add_again`], after this call, so the new documents
    /// are not deleted too).
    pub fn delete_ids(&mut self, ids: Arc<HashSet<u64>>) -> Result<()> {
        self.add_pending(false)?;
        let predicate = FunctionPredicate::from(move |segment: &SegmentReader| {
            let column = EventIds::open(segment)?;
            let ids = Arc::clone(&ids);
            Ok(move |doc: DocId| column.id(doc).is_some_and(|id| ids.contains(&id)))
        });
        let query: DocPredicateQuery = predicate.into();
        self.writer
            .delete_query(Box::new(query))
            .map_err(index_error)?;
        self.dirty = true;
        self.deleted = true;
        Ok(())
    }

    /// Adds `event` of the file or stream `key` again (under the same id) in its batch
    /// `ingested`, with the ids of the shipped documents it was folded from (`doc_ids`);
    /// checkpoints do not move.
    pub fn add_again(
        &mut self,
        key: &str,
        event: Event,
        ingested: u64,
        doc_ids: &[String],
    ) -> Result<()> {
        let doc = EventDocument::new_in(&self.fields, event, key, ingested, &mut self.files)
            .with_doc_ids(doc_ids);
        self.add_document(doc)?;
        self.dirty = true;
        self.uncommitted_events += 1;
        Ok(())
    }

    /// Waits for background merges to finish, so the index on disk is compact.
    pub fn wait_merging_threads(self) -> Result<()> {
        if let Some(blocks) = self.blocks {
            blocks.wait_merging_threads()?;
        }
        if let Some(texts) = self.texts {
            texts.wait_merging_threads()?;
        }
        self.writer.wait_merging_threads().map_err(index_error)
    }
}

/// The batch after `previous`: the time in milliseconds, or one more than `previous` if the
/// clock did not move on (or went back).
fn next_batch(previous: u64) -> u64 {
    let now = jiff::Timestamp::now().as_millisecond().max(0) as u64;
    now.max(previous + 1)
}

fn now_secs() -> i64 {
    jiff::Timestamp::now().as_second()
}

fn index_error(err: tantivy::TantivyError) -> Error {
    Error::Index(err)
}

/// The canonical key of a path in the checkpoints.
pub fn file_key(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finished_edge_streams_are_forgotten_and_the_rest_kept() {
        let dir = tempfile::tempdir().unwrap();
        let (index, fields) = super::super::open_or_create(dir.path()).unwrap();
        let mut writer = EventWriter::open(&index, fields, 32 << 20, 1).unwrap();
        let old = now_secs() - 8 * 24 * 3600;
        let streams = &mut writer.checkpoints.streams;
        for key in ["edge:web01/a", "edge:web01/b", "stream:web01 /l/app.log"] {
            streams.entry(key.into()).or_default().updated = old;
        }
        streams.get_mut("edge:web01/b").unwrap().updated = now_secs();
        assert_eq!(writer.forget_streams("edge:", 7 * 24 * 3600), 1);
        let kept: Vec<&str> = writer
            .checkpoints
            .streams
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(kept, ["edge:web01/b", "stream:web01 /l/app.log"]);
        assert!(writer.is_dirty());
    }

    /// The chunks of text in the texts index that are not deleted.
    fn chunks(data: &Path) -> u64 {
        let texts = crate::index::texts::TextStore::open(data).unwrap().unwrap();
        texts.index().reader().unwrap().searcher().num_docs()
    }

    /// A chunk of text lives while an event names it: one committed without its events (a
    /// crash between the two commits) is deleted when a writer opens, a pruned file's after
    /// the commit that deletes its events. A commit that wrote no whole chunk keeps its texts
    /// in the docstore. The events left read as they were written, their lines too.
    #[test]
    fn a_chunk_of_text_goes_with_the_last_event_that_names_it() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let settings = crate::config::ConfigFile::default()
            .settings(Some("UTC"), 1, 2020)
            .unwrap();
        let (index, fields) = super::super::open_or_create(&data).unwrap();
        let mut writer = EventWriter::open(&index, fields.clone(), 32 << 20, 1)
            .and_then(|writer| writer.with_stores(&data))
            .unwrap();
        let mut kept = Vec::new();
        let mut index_file = |writer: &mut EventWriter, year: u32, events: usize| {
            let path = dir
                .path()
                .join(format!("app_billing_pro_1.0_h1_{year}0301.log"));
            let text: String = (0..events)
                .map(|n| {
                    let trace = if n % 7 == 0 { "\n\tat a.B.c(B.java:1)" } else { "" };
                    let (h, m, s) = (n / 3600, n / 60 % 60, n % 60);
                    let pad = "x".repeat(n % 90);
                    format!("{year}-03-01 {h:02}:{m:02}:{s:02},000 INFO [main] c.a.B - event {n} {pad}{trace}\n")
                })
                .collect();
            std::fs::write(&path, text).unwrap();
            let (events, _) = crate::pipeline::collect_file(path.clone(), &settings);
            for event in events {
                if year > 2020 {
                    kept.push((event.text.clone(), event.line, event.lines));
                }
                writer.add(&file_key(&path), event).unwrap();
            }
            writer.commit().unwrap();
        };
        // Each file more than a commit's least for chunks (1 MiB), the last chunk short.
        index_file(&mut writer, 2020, 12_000);
        index_file(&mut writer, 2024, 12_000);
        let written = chunks(&data);
        assert!(written >= 6, "{written} chunks");
        drop(writer);
        let mut texts = crate::index::texts::TextWriter::open(&data).unwrap();
        let orphan = crate::index::texts::Entry {
            key_hash: 1,
            offset: 0,
            line: 1,
            lines: 1,
            message_at: None,
            text: "committed, its event never",
        };
        texts.add(&orphan).unwrap();
        texts.commit().unwrap();
        drop(texts);
        assert_eq!(chunks(&data), written + 1);

        let mut writer = EventWriter::open(&index, fields, 32 << 20, 1)
            .and_then(|writer| writer.with_stores(&data))
            .unwrap();
        assert_eq!(chunks(&data), written);
        let cutoff: jiff::Timestamp = "2021-01-01T00:00:00Z".parse().unwrap();
        writer.delete_before(cutoff).unwrap();
        writer.commit().unwrap();
        let left = chunks(&data);
        assert!(left > 0 && left < written, "{left} of {written} chunks");
        // A small commit: its texts stay in the docstore, no chunk is written.
        index_file(&mut writer, 2025, 20);
        assert_eq!(chunks(&data), left);

        // Read back by year (a search gives at most 10,000): the chunked file's newest 10,000
        // and the small commit's 20.
        let reader = crate::query::Reader::open(&data).unwrap();
        let year: jiff::Timestamp = "2025-01-01T00:00:00Z".parse().unwrap();
        let read = |filters: crate::query::Filters| -> Vec<(String, u64, u32)> {
            let mut found: Vec<_> = reader
                .search("", &filters, 10_000)
                .unwrap()
                .into_iter()
                .map(|e| (e.event.text.into_owned(), e.event.line, e.event.lines))
                .collect();
            found.sort_by_key(|(_, line, _)| *line);
            found
        };
        let (chunked, small) = kept.split_at(kept.len() - 20);
        let before = crate::query::Filters {
            to: Some(year),
            ..Default::default()
        };
        assert_eq!(read(before), chunked[chunked.len() - 10_000..]);
        let after = crate::query::Filters {
            from: Some(year),
            ..Default::default()
        };
        assert_eq!(read(after), small);
    }
}
