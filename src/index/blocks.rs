//! Frame blocks indexed once (issue 17): the indented lines of a trace, which repeat from one
//! event to the next while messages vary, searched through a small index of their own.
//!
//! An exception event's `body` keeps its message and the trace's unindented lines (the
//! `Caused by:`, `Traceback`, Go's function lines); its indented lines (Java's `at`, Python's
//! `File` and source lines, .NET's and JavaScript's `at`) are its *block*. Each distinct block
//! is indexed once, in the blocks index under `DATA/blocks`, by the xxh3 hash of its text;
//! the event holds that hash in its `block` field. A search for words on the body also finds
//! the events whose block holds them: each leaf of the query on the body becomes
//! `body:X OR block:IN [blocks matching X]` (see [`BlockSearch::matching`]). The event's
//! stored text is unchanged, so it is shown and exported byte for byte as written.
//!
//! The same goes for what an exception's `exc_types` and `frames` hold (the chain's types and
//! its in-app frames), which repeat with the trace: each distinct set of them is a *trace*
//! document of the blocks index, under the hash of its values, and the event names it in its
//! `block` field too. A leaf of the query on `exc_types` or `frames` becomes
//! `frames:X OR block:IN [traces matching X]`, as a leaf on the body does (issue 17: indexed
//! per event, the two fields were a fifth of ingest on logs where traces repeat).
//!
//! Blocks are committed before the events that name them: a crash between the two leaves
//! blocks no event names yet, which match nothing. A block is never changed or removed, so
//! an answer kept for a segment stays true as blocks are added.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};

use quick_cache::sync::Cache;
use tantivy_fst::Automaton;
use tantivy_fst::raw::CompiledAddr;

use tantivy::collector::DocSetCollector;
use tantivy::directory::MmapDirectory;
use tantivy::index::SegmentId;
use tantivy::query::{
    AutomatonWeight, BitSetDocSet, ConstScorer, EnableScoring, Explanation, Query, QueryParser,
    Scorer, Weight,
};
use tantivy::query_grammar::UserInputAst;
use tantivy::schema::{Field, NumericOptions, Schema};
use tantivy::{BitSet, DocId, DocSet, Score, SegmentReader, TERMINATED};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, Searcher, TantivyDocument};

use super::directory::ReadDirectory;
use super::schema::code_text;
use crate::error::{Error, Result};

/// Where the blocks index lives under the data directory.
pub fn blocks_dir(data: &Path) -> PathBuf {
    data.join("blocks")
}

/// Heap of the blocks' writer: the least tantivy takes; blocks are few and small.
const HEAP_BYTES: usize = 15 << 20;

/// The blocks index's fields: the hash events name a document by, and a block's text,
/// searched as an event's body is, or a trace's types and in-app frames, searched as the
/// events' fields of the same names were.
#[derive(Debug, Clone, Copy)]
struct BlockFields {
    hash: Field,
    body: Field,
    exc_types: Field,
    frames: Field,
}

fn schema() -> (Schema, BlockFields) {
    let mut b = Schema::builder();
    let fields = BlockFields {
        // A column only: read for the blocks a query matches, never searched.
        hash: b.add_u64_field("hash", NumericOptions::default().set_fast()),
        body: b.add_text_field("body", code_text(false)),
        exc_types: b.add_text_field("exc_types", code_text(false)),
        frames: b.add_text_field("frames", code_text(false)),
    };
    (b.build(), fields)
}

fn open_in<D: tantivy::Directory>(
    data: &Path,
    directory: impl FnOnce(
        &Path,
    ) -> std::result::Result<D, tantivy::directory::error::OpenDirectoryError>,
) -> Result<(Index, BlockFields)> {
    let (schema, fields) = schema();
    let index = super::open_side_index(
        &blocks_dir(data),
        schema,
        tantivy::IndexSettings::default(),
        "blocks",
        directory,
    )?;
    super::register_tokenizers(&index);
    Ok((index, fields))
}

/// The block of an exception event's searched body: its indented lines after the first,
/// joined as written; `None` when there are none. Returns what stays in the body (the other
/// lines) and the block's hash; the block itself is given by [`block_of`] only when it is
/// not indexed yet.
pub fn split(body: &str) -> Option<(String, u64)> {
    let mut lines = body.split('\n');
    let mut kept = String::with_capacity(body.len());
    kept.push_str(lines.next().unwrap_or(""));
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    let mut any = false;
    for line in lines {
        if in_block(line) {
            if any {
                hasher.update(b"\n");
            }
            hasher.update(line.as_bytes());
            any = true;
        } else {
            kept.push('\n');
            kept.push_str(line);
        }
    }
    any.then(|| (kept, hasher.digest()))
}

/// The block [`split`] hashed: the indented lines after the first, joined by `\n`.
pub fn block_of(body: &str) -> String {
    let indented = body.split('\n').skip(1).filter(|line| in_block(line));
    indented.collect::<Vec<_>>().join("\n")
}

/// Whether a line of a body after its first is one of its block's: an indented one.
fn in_block(line: &str) -> bool {
    line.starts_with([' ', '\t'])
}

/// The hash a trace is named by: of its types and its in-app frames' `module.function`, each
/// ended by a byte no block's text holds, so that it names no block.
pub fn trace_hash<'a>(
    types: impl IntoIterator<Item = &'a str>,
    frames: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> u64 {
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    hasher.update(b"trace\0");
    for ty in types {
        hasher.update(ty.as_bytes());
        hasher.update(b"\0");
    }
    hasher.update(b"\x01");
    for (module, function) in frames {
        hasher.update(module.as_bytes());
        hasher.update(b".");
        hasher.update(function.as_bytes());
        hasher.update(b"\0");
    }
    hasher.digest()
}

/// Adds the blocks not indexed yet; what [`super::EventWriter`] commits before its events.
pub struct BlockWriter {
    writer: IndexWriter,
    fields: BlockFields,
    /// Every block committed or added since.
    known: HashSet<u64>,
    uncommitted: bool,
}

impl BlockWriter {
    /// The writer of the blocks index under `data`, created if needed.
    pub fn open(data: &Path) -> Result<BlockWriter> {
        let (index, fields) = open_in(data, |dir| MmapDirectory::open(dir))?;
        let writer = index
            .writer_with_num_threads(1, HEAP_BYTES)
            .map_err(Error::Index)?;
        let searcher = index.reader().map_err(Error::Index)?.searcher();
        let mut known = HashSet::new();
        for segment in searcher.segment_readers() {
            let column = segment.fast_fields().u64("hash").map_err(Error::Index)?;
            for doc in segment.doc_ids_alive() {
                known.extend(column.first(doc));
            }
        }
        Ok(BlockWriter {
            writer,
            fields,
            known,
            uncommitted: false,
        })
    }

    /// Indexes the block `block()` gives under `hash` unless it is already.
    pub fn add(&mut self, hash: u64, block: impl FnOnce() -> String) -> Result<()> {
        if self.known.insert(hash) {
            let mut doc = TantivyDocument::default();
            doc.add_u64(self.fields.hash, hash);
            doc.add_text(self.fields.body, block());
            self.writer.add_document(doc).map_err(Error::Index)?;
            self.uncommitted = true;
        }
        Ok(())
    }

    /// Indexes the trace of `types` and in-app `frames` (`module.function`) under `hash`
    /// unless it is already.
    pub fn add_trace<'a>(
        &mut self,
        hash: u64,
        types: impl IntoIterator<Item = &'a str>,
        frames: impl IntoIterator<Item = String>,
    ) -> Result<()> {
        if self.known.insert(hash) {
            let mut doc = TantivyDocument::default();
            doc.add_u64(self.fields.hash, hash);
            for ty in types {
                doc.add_text(self.fields.exc_types, ty);
            }
            for frame in frames {
                doc.add_text(self.fields.frames, frame);
            }
            self.writer.add_document(doc).map_err(Error::Index)?;
            self.uncommitted = true;
        }
        Ok(())
    }

    /// Makes the blocks added so far durable.
    pub fn commit(&mut self) -> Result<()> {
        if self.uncommitted {
            self.writer.commit().map_err(Error::Index)?;
            self.uncommitted = false;
        }
        Ok(())
    }

    /// Waits for the blocks index's merges.
    pub fn wait_merging_threads(self) -> Result<()> {
        self.writer.wait_merging_threads().map_err(Error::Index)
    }
}

/// Finds the blocks a query's leaf matches.
pub struct BlockSearch {
    index: Index,
    reader: IndexReader,
    parser: QueryParser,
    /// What each leaf matched, by the blocks' segments and the leaf: the UI asks the same
    /// query for its search, histogram and fields, and building the set of a word found in
    /// tens of thousands of blocks took most of those requests' time. A commit of events
    /// that brings no new block leaves the segments, and so the sets, as they were.
    matched: Cache<(Vec<SegmentId>, UserInputAst), Option<Arc<BlockSet>>, ByBytes>,
}

/// The memory the sets of blocks matched may take.
const MATCHED_CAPACITY_BYTES: u64 = 16 << 20;

impl BlockSearch {
    /// The blocks index under `data`, for a server's reading (created empty if missing).
    pub fn open_for_reading(data: &Path) -> Result<BlockSearch> {
        let (index, fields) = open_in(data, ReadDirectory::open)?;
        Self::new(index, fields)
    }

    /// The blocks index under `data`, if there is one.
    pub fn open(data: &Path) -> Result<Option<BlockSearch>> {
        if !blocks_dir(data).join("meta.json").exists() {
            return Ok(None);
        }
        let (index, fields) = open_in(data, |dir| MmapDirectory::open(dir))?;
        Self::new(index, fields).map(Some)
    }

    fn new(index: Index, fields: BlockFields) -> Result<BlockSearch> {
        let reader: IndexReader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(Error::Index)?;
        let mut parser = QueryParser::for_index(&index, vec![fields.body]);
        parser.set_conjunction_by_default();
        parser.allow_regexes();
        Ok(BlockSearch {
            index,
            reader,
            parser,
            matched: Cache::with_weighter(1024, MATCHED_CAPACITY_BYTES, ByBytes),
        })
    }

    /// The blocks index.
    pub fn index(&self) -> &Index {
        &self.index
    }

    /// Sees the blocks committed until now: called when the events' reader sees a newer
    /// commit, whose blocks were committed before it.
    pub fn reload(&self) -> tantivy::Result<()> {
        self.reader.reload()
    }

    /// The blocks (or traces) that `leaf`, a leaf of a query on the body (or on `exc_types`
    /// or `frames`), matches; `None` when it matches none, or cannot be asked of the blocks.
    pub fn matching(&self, leaf: &UserInputAst) -> tantivy::Result<Option<Arc<BlockSet>>> {
        let searcher = self.reader.searcher();
        let mut segments: Vec<SegmentId> = searcher
            .segment_readers()
            .iter()
            .map(SegmentReader::segment_id)
            .collect();
        segments.sort_unstable();
        let key = (segments, leaf.clone());
        if let Some(matched) = self.matched.get(&key) {
            return Ok(matched);
        }
        let (query, errors) = self
            .parser
            .build_query_from_user_input_ast_lenient(leaf.clone());
        let matched = if errors.is_empty() {
            search(&searcher, &*query)?
        } else {
            None
        };
        self.matched.insert(key, matched.clone());
        Ok(matched)
    }
}

/// The blocks `query` matches as `searcher` sees them.
fn search(searcher: &Searcher, query: &dyn Query) -> tantivy::Result<Option<Arc<BlockSet>>> {
    let docs = searcher.search(query, &DocSetCollector)?;
    if docs.is_empty() {
        return Ok(None);
    }
    let mut columns = Vec::new();
    for segment in searcher.segment_readers() {
        columns.push(segment.fast_fields().u64("hash")?);
    }
    let mut hashes: Vec<u64> = docs
        .into_iter()
        .filter_map(|at| columns[at.segment_ord as usize].first(at.doc_id))
        .collect();
    hashes.sort_unstable();
    hashes.dedup();
    // The events' `block` terms: a u64's bytes, big-endian, as tantivy orders them.
    let keys = hashes.iter().map(|hash| (hash.to_be_bytes(), 0));
    let map = tantivy_fst::Map::from_iter(keys).map_err(std::io::Error::other)?;
    Ok(Some(Arc::new(BlockSet::new(map))))
}

/// A set of blocks, as an automaton over the events' `block` terms; `id` tells it from
/// every other set this process made.
pub struct BlockSet {
    map: tantivy_fst::Map<Vec<u8>>,
    id: u64,
}

impl BlockSet {
    fn new(map: tantivy_fst::Map<Vec<u8>>) -> BlockSet {
        static SETS: AtomicU64 = AtomicU64::new(0);
        let id = SETS.fetch_add(1, Ordering::Relaxed);
        BlockSet { map, id }
    }
}

impl std::fmt::Debug for BlockSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BlockSet({} blocks)", self.map.len())
    }
}

impl Automaton for BlockSet {
    type State = Option<CompiledAddr>;

    fn start(&self) -> Self::State {
        Some(self.map.as_ref().root().addr())
    }

    fn is_match(&self, state: &Self::State) -> bool {
        state.is_some_and(|at| self.map.as_ref().node(at).is_final())
    }

    fn can_match(&self, state: &Self::State) -> bool {
        state.is_some()
    }

    fn accept(&self, state: &Self::State, byte: u8) -> Self::State {
        let node = self.map.as_ref().node((*state)?);
        let transition = node.find_input(byte)?;
        Some(node.transition_addr(transition))
    }
}

#[derive(Clone)]
struct ByBytes;

impl quick_cache::Weighter<(Vec<SegmentId>, UserInputAst), Option<Arc<BlockSet>>> for ByBytes {
    /// The set's automaton, and a leaf's few strings and the segments' ids.
    fn weight(&self, _: &(Vec<SegmentId>, UserInputAst), set: &Option<Arc<BlockSet>>) -> u64 {
        let set = set.as_ref().map_or(0, |set| set.map.as_fst().size());
        (set + 256) as u64
    }
}

/// The events that name one of a set of blocks.
#[derive(Debug, Clone)]
pub struct NamesABlock {
    field: Field,
    blocks: Arc<BlockSet>,
}

impl NamesABlock {
    /// The events whose `field` (the events' `block`) names one of `blocks`.
    pub fn new(field: Field, blocks: Arc<BlockSet>) -> NamesABlock {
        NamesABlock { field, blocks }
    }
}

impl Query for NamesABlock {
    fn weight(&self, _: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(NamesABlockWeight {
            terms: AutomatonWeight::new(self.field, Arc::clone(&self.blocks)),
            set: self.blocks.id,
        }))
    }
}

/// Finds a segment's events that name a set of blocks once, then from memory: a segment
/// never changes, nor does a set, and going through the terms of tens of thousands of
/// blocks took a search for a word of the frame lines from 3 to 14 ms.
struct NamesABlockWeight {
    terms: AutomatonWeight<BlockSet>,
    set: u64,
}

/// The memory the events found by sets of blocks may take (a bit per event of a segment).
const NAMING_CAPACITY_BYTES: u64 = 32 << 20;

static NAMING: LazyLock<Cache<(SegmentId, u64), Arc<BitSet>, BitSetBytes>> =
    LazyLock::new(|| Cache::with_weighter(1024, NAMING_CAPACITY_BYTES, BitSetBytes));

#[derive(Clone)]
struct BitSetBytes;

impl quick_cache::Weighter<(SegmentId, u64), Arc<BitSet>> for BitSetBytes {
    fn weight(&self, _: &(SegmentId, u64), docs: &Arc<BitSet>) -> u64 {
        u64::from(docs.max_value()) / 8 + 64
    }
}

impl Weight for NamesABlockWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        let key = (reader.segment_id(), self.set);
        let docs = match NAMING.get(&key) {
            Some(docs) => docs,
            None => {
                let mut docs = BitSet::with_max_value(reader.max_doc());
                let mut scorer = self.terms.scorer(reader, boost)?;
                let mut doc = scorer.doc();
                while doc != TERMINATED {
                    docs.insert(doc);
                    doc = scorer.advance();
                }
                let docs = Arc::new(docs);
                NAMING.insert(key, Arc::clone(&docs));
                docs
            }
        };
        let docs = BitSetDocSet::from(BitSet::clone(&docs));
        Ok(Box::new(ConstScorer::new(docs, boost)))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        self.terms.explain(reader, doc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::{EventWriter, file_key};
    use crate::query::{Filters, Reader};

    /// Three exceptions: two with the same frames and other messages, one with frames of its
    /// own; and a line without a trace.
    const LOG: &str = "\
2024-03-01 10:00:01,000 ERROR [main] c.a.Billing - charge failed for order 1
java.lang.IllegalStateException: card declined
\tat com.acme.billing.PaymentClient.charge(PaymentClient.java:42)
\tat com.acme.billing.OrderService.place(OrderService.java:7)
2024-03-01 10:00:02,000 ERROR [main] c.a.Billing - charge failed for order 2
java.lang.IllegalStateException: card expired
\tat com.acme.billing.PaymentClient.charge(PaymentClient.java:42)
\tat com.acme.billing.OrderService.place(OrderService.java:7)
2024-03-01 10:00:03,000 ERROR [main] c.a.Stock - reserve failed
java.io.IOException: stock service down
\tat com.acme.stock.StockClient.reserve(StockClient.java:9)
Caused by: java.net.ConnectException: refused
\t... 1 more
2024-03-01 10:00:04,000 INFO [main] c.a.Billing - PaymentClient ready
";

    /// The events of `log`, written to `path` and folded with the default settings in UTC.
    fn folded(path: &Path, log: &str) -> Vec<crate::event::Event> {
        let settings = crate::config::ConfigFile::default()
            .settings(Some("UTC"), 1, 2020)
            .unwrap();
        std::fs::write(path, log).unwrap();
        crate::pipeline::collect_file(path.to_path_buf(), &settings).0
    }

    /// A word found only in a shared trace finds every event that has the trace, and the
    /// query language keeps its meaning over blocks: NOT, AND, phrases, wildcards. The frame
    /// lines are in the blocks index once and not in the events' body.
    #[test]
    fn frame_lines_are_searched_in_their_block_indexed_once() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let path = dir.path().join("app.log");
        let events = folded(&path, LOG);
        assert_eq!(events.len(), 4);
        let (index, fields) = crate::index::open_or_create(&data).unwrap();
        // Opened between the events' index and the blocks, as a server's alerts may be.
        let early = Reader::open(&data).unwrap();
        let mut writer = EventWriter::open(&index, fields.clone(), 32 << 20, 1)
            .unwrap()
            .with_stores(&data)
            .unwrap();
        for event in events.clone() {
            writer.add(&file_key(&path), event).unwrap();
        }
        writer.commit().unwrap();

        let reader = Reader::open(&data).unwrap();
        let count = |q: &str| reader.count(q, &Filters::default()).unwrap();
        assert_eq!(count("OrderService.place"), 2);
        early.reload().unwrap();
        let early_count = early.count("OrderService.place", &Filters::default());
        assert_eq!(early_count.unwrap(), 2);
        assert_eq!(count("\"PaymentClient.charge(PaymentClient.java:42)\""), 2);
        assert_eq!(count("PaymentClient"), 3, "two traces and a message");
        assert_eq!(count("level:ERROR AND NOT OrderService"), 1);
        assert_eq!(count("failed -OrderService"), 1);
        assert_eq!(count("OrderService AND expired"), 1);
        assert_eq!(count("OrderService OR StockClient"), 3);
        assert_eq!(count("Stock*"), 1);
        assert_eq!(count("(OrderService OR StockClient)^2 AND expired"), 1);
        assert_eq!(count("body:/stock.*/"), 1);
        assert_eq!(count("body:reserve AND level:ERROR"), 1);
        assert_eq!(count("\"1 more\""), 1);
        // What a phrase over the message and the frame lines loses.
        assert_eq!(count("\"card declined at com\""), 0);

        // The frame lines are in no event's body, and each distinct block is indexed once.
        let searcher = index.reader().unwrap().searcher();
        let term = tantivy::Term::from_field_text(fields.body, "place");
        assert_eq!(searcher.doc_freq(&term).unwrap(), 0);
        let blocks = BlockSearch::open(&data).unwrap().unwrap();
        // Two blocks, and two traces (see the next test).
        assert_eq!(blocks.index().reader().unwrap().searcher().num_docs(), 4);

        // An event read back is as it was written.
        let shown = reader
            .search("OrderService", &Filters::default(), 10)
            .unwrap();
        let texts: Vec<&str> = shown.iter().map(|e| &*e.event.text).collect();
        assert_eq!(texts, [events[1].text.as_str(), events[0].text.as_str()]);

        // A writer opened again knows the blocks: the same trace adds none.
        drop(writer);
        let mut writer = EventWriter::open(&index, fields, 32 << 20, 1)
            .unwrap()
            .with_stores(&data)
            .unwrap();
        let again = dir.path().join("again.log");
        for event in folded(&again, LOG) {
            writer.add(&file_key(&again), event).unwrap();
        }
        writer.commit().unwrap();
        reader.reload().unwrap();
        assert_eq!(count("OrderService.place"), 4);
        blocks.reload().unwrap();
        assert_eq!(blocks.index().reader().unwrap().searcher().num_docs(), 4);

        // A reader that sees a new commit sees the blocks its events name.
        let new = dir.path().join("new.log");
        let trace = LOG.replace("OrderService.place", "InventoryGateway.lookup");
        for event in folded(&new, &trace) {
            writer.add(&file_key(&new), event).unwrap();
        }
        writer.commit().unwrap();
        assert_eq!(count("InventoryGateway.lookup"), 0, "not reloaded yet");
        reader.reload().unwrap();
        assert_eq!(count("InventoryGateway.lookup"), 2);
    }

    /// `exc_types` and `frames` are fields of the query language (README, Queries): every
    /// type of an exception's chain, and its in-app frames as `module.function`; not the
    /// framework's frames, nor a message that names a class. They find the same whether
    /// indexed per event (a writer without the blocks index) or once per distinct trace.
    #[test]
    fn exception_types_and_in_app_frames_are_fields_of_the_query_language() {
        let web = "2024-03-01 10:00:05,000 ERROR [main] c.a.Web - request failed\n\
            java.lang.IllegalStateException: bad state\n\
            \tat org.springframework.web.servlet.DispatcherServlet.doDispatch(DispatcherServlet.java:1)\n\
            \tat com.acme.web.Controller.handle(Controller.java:3)\n\
            2024-03-01 10:00:06,000 ERROR [main] c.a.Web - request failed again\n\
            java.lang.IllegalStateException: bad state again\n\
            \tat org.springframework.web.servlet.DispatcherServlet.doDispatch(DispatcherServlet.java:2)\n\
            \tat com.acme.web.Controller.handle(Controller.java:3)\n";
        for per_trace in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let data = dir.path().join("data");
            let path = dir.path().join("app.log");
            let events = folded(&path, &format!("{LOG}{web}"));
            assert_eq!(events.len(), 6);
            let (index, fields) = crate::index::open_or_create(&data).unwrap();
            let mut writer = EventWriter::open(&index, fields.clone(), 32 << 20, 1).unwrap();
            if per_trace {
                writer = writer.with_stores(&data).unwrap();
            }
            for event in events {
                writer.add(&file_key(&path), event).unwrap();
            }
            writer.commit().unwrap();
            let reader = Reader::open(&data).unwrap();
            check_exception_types_and_frames(&reader);

            let searcher = index.reader().unwrap().searcher();
            let on_events = |field, word| {
                let term = tantivy::Term::from_field_text(field, word);
                searcher.doc_freq(&term).unwrap()
            };
            if per_trace {
                // In no event, and each distinct trace once, though its frame blocks differ
                // (the line numbers of a framework's frame).
                assert_eq!(on_events(fields.frames, "controller"), 0);
                assert_eq!(on_events(fields.exc_types, "illegal"), 0);
                let blocks = BlockSearch::open(&data).unwrap().unwrap();
                let blocks = blocks.index().reader().unwrap().searcher();
                let traces = |word| {
                    let field = blocks.schema().get_field("frames").unwrap();
                    blocks
                        .doc_freq(&tantivy::Term::from_field_text(field, word))
                        .unwrap()
                };
                assert_eq!(traces("controller"), 1);
                assert_eq!(traces("place"), 1);
            } else {
                assert_eq!(on_events(fields.frames, "controller"), 2);
            }
        }
    }

    fn check_exception_types_and_frames(reader: &Reader) {
        let count = |q: &str| reader.count(q, &Filters::default()).unwrap();
        assert_eq!(count("exc_types:IllegalStateException"), 4);
        assert_eq!(count("exc_types:ConnectException"), 1, "a cause's type");
        assert_eq!(count("exc_types:\"java.io.IOException\""), 1);
        assert_eq!(count("exc_types:/illegal.*/"), 4);
        assert_eq!(count("frames:\"OrderService.place\""), 2);
        assert_eq!(
            count("frames:PaymentClient"),
            2,
            "not the message naming it"
        );
        assert_eq!(
            count("frames:\"Controller.handle\" AND exc_types:IllegalState"),
            2
        );
        assert_eq!(count("frames:Controller AND again"), 1);
        assert_eq!(count("exc_types:IllegalState AND NOT frames:Controller"), 2);
        assert_eq!(count("-frames:Controller"), 4, "events without a trace too");
        assert_eq!(count("frames:DispatcherServlet"), 0, "a framework frame");
        assert_eq!(count("DispatcherServlet"), 2, "which the body finds");
    }

    #[test]
    fn a_trace_splits_into_its_unindented_lines_and_its_indented_block() {
        // What stays in the body and the block, which is named by the hash of its text:
        // indexes written before keep naming blocks that way.
        let split = |body: &str| {
            split(body).map(|(kept, named)| {
                let block = block_of(body);
                let hash = xxhash_rust::xxh3::xxh3_64(block.as_bytes());
                assert_eq!(named, hash, "{body:?}");
                (kept, block)
            })
        };
        let body = "charge failed\njava.lang.IllegalStateException: x\n\tat a.B.c(B.java:1)\n\tat a.B.d(B.java:2)\nCaused by: java.io.IOException: y\n\t... 2 more";
        let (kept, block) = split(body).unwrap();
        assert_eq!(
            kept,
            "charge failed\njava.lang.IllegalStateException: x\nCaused by: java.io.IOException: y"
        );
        assert_eq!(
            block,
            "\tat a.B.c(B.java:1)\n\tat a.B.d(B.java:2)\n\t... 2 more"
        );
        // The first line stays even when indented; a body without indented lines has no block.
        assert_eq!(split("  msg\nnext"), None);
        assert_eq!(split("msg"), None);
        let (kept, block) = split("\nTraceback:\n  File \"a.py\", line 1\n    x()\nE: m").unwrap();
        assert_eq!(kept, "\nTraceback:\nE: m");
        assert_eq!(block, "  File \"a.py\", line 1\n    x()");
        let (kept, block) = split("m\n\tat x\n\n\tat y\n").unwrap();
        assert_eq!((kept.as_str(), block.as_str()), ("m\n\n", "\tat x\n\tat y"));
    }

    /// A trace is named by the hash of its types and in-app frames, as it always was.
    #[test]
    fn a_trace_is_named_by_its_types_and_frames() {
        let hash = trace_hash(["a.X", "b.Y"], [("c.D", "run"), ("e.F", "go")]);
        let mut named = b"trace\0a.X\0b.Y\0\x01c.D.run\0e.F.go\0".to_vec();
        assert_eq!(hash, xxhash_rust::xxh3::xxh3_64(&named));
        named.pop();
        assert_ne!(hash, xxhash_rust::xxh3::xxh3_64(&named));
    }
}
