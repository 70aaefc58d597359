//! Stage 6, query: query text and filters into tantivy queries; events newest first,
//! histograms, and exception groups with exact counts.
//!
//! Opens the index read-only and sees new commits as they land. Never writes. Everything
//! it returns is typed ([`StoredEvent`], [`SearchPage`], [`Histogram`], [`GroupList`],
//! [`GroupDetail`]); JSON is made only where it leaves the process. One file per operation:
//! `search` (newest first, cursor paging), `histogram`, `groups` (with the `group_stats`
//! collector), `fields` (value counts); `events` turns documents back into events.

mod cache;
mod events;
mod fields;
mod filters;
mod group_stats;
mod groups;
mod histogram;
mod patterns;
mod search;
pub mod time;

use std::path::Path;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use tantivy::collector::Count;
use tantivy::query::QueryParser;
use tantivy::{DocAddress, Index, IndexReader, Searcher};

use events::ColumnCache;
pub use events::{EventReader, StoredEvent};
pub use filters::{Filters, QueryError};
use group_stats::DIMENSIONS;
pub use groups::{GroupDetail, GroupList, GroupSort, GroupSummary};
pub use histogram::{Histogram, MAX_BUCKETS, auto_interval};
pub use patterns::{PatternDetail, PatternList, PatternSummary};
pub use search::{MAX_LIMIT, SearchHit, SearchPage};
use search::{WINDOW_ABOVE_MATCHES, WINDOW_HOLDS};

use crate::error::Error;
use crate::index::Fields;
use crate::index::blocks::BlockSearch;
use crate::index::checkpoint::{Checkpoints, FileCheckpoint};

/// A read-only view of the index under a data directory.
pub struct Reader {
    index: Index,
    reader: IndexReader,
    fields: Fields,
    parser: QueryParser,
    /// Likely matches above which searches go by time windows, and how many times the
    /// wanted hits the first window should hold (see [`Reader::newest`]).
    window_above: u64,
    window_holds: f64,
    columns: ColumnCache,
    /// Aggregations per segment and query (see [`cache`]).
    aggregates: cache::SegmentCache,
    /// The frame blocks the events name (see [`crate::index::blocks`]), the data directory
    /// they are opened from when they appear there, and the events' generation the blocks were
    /// last reloaded for.
    blocks: OnceLock<BlockSearch>,
    blocks_in: Option<std::path::PathBuf>,
    blocks_seen: AtomicU64,
}

/// One value of a breakdown and how many events have it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValueCount {
    pub value: String,
    pub count: u64,
}

impl Reader {
    /// Opens the index under `data`.
    pub fn open(data: &Path) -> Result<Reader, Error> {
        let (index, fields) = crate::index::open(data)?;
        let mut reader = Self::new(index, fields)?;
        // Writers create the blocks just after the events' index: a reader opened between
        // the two opens them at its first query after they appear.
        reader.blocks_in = Some(data.to_path_buf());
        reader.columns = ColumnCache::opening_texts_in(data);
        Ok(reader)
    }

    /// The same reader, reading events' texts from `texts` (see [`crate::index::texts`]).
    pub fn with_texts(mut self, texts: crate::index::texts::TextStore) -> Self {
        self.columns = ColumnCache::with_texts(texts);
        self
    }

    /// The same reader, also finding events by the frame blocks they name.
    pub fn with_blocks(self, blocks: BlockSearch) -> Self {
        let _ = self.blocks.set(blocks);
        self
    }

    /// The frame blocks, if the index has them.
    fn blocks(&self) -> Result<Option<&BlockSearch>, QueryError> {
        if let Some(blocks) = self.blocks.get() {
            return Ok(Some(blocks));
        }
        let Some(data) = &self.blocks_in else {
            return Ok(None);
        };
        let opened = BlockSearch::open(data).map_err(|err| match err {
            Error::Index(err) | Error::IndexOpen { source: err, .. } => QueryError::Index(err),
            other => QueryError::Index(tantivy::TantivyError::SystemError(
                crate::error::Chain(&other).to_string(),
            )),
        })?;
        Ok(opened.map(|blocks| self.blocks.get_or_init(|| blocks)))
    }

    /// A reader over an opened index.
    pub fn new(mut index: Index, fields: Fields) -> Result<Reader, Error> {
        // Segments are searched in parallel, one thread per core: a query over millions of
        // matches spreads over the cores (the server bounds how many queries run at once).
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        index
            .set_multithread_executor(cores)
            .map_err(Error::Index)?;
        let reader = index.reader()?;
        let mut parser = QueryParser::for_index(&index, vec![fields.body]);
        parser.set_conjunction_by_default();
        parser.allow_regexes();
        Ok(Reader {
            index,
            reader,
            fields,
            parser,
            window_above: WINDOW_ABOVE_MATCHES,
            window_holds: WINDOW_HOLDS,
            columns: ColumnCache::default(),
            aggregates: cache::SegmentCache::default(),
            blocks: OnceLock::new(),
            blocks_in: None,
            blocks_seen: AtomicU64::new(u64::MAX),
        })
    }

    /// The same reader, searching by time windows above `matches` likely matches, the first
    /// holding `holds` times the hits wanted: for tests, which show that windows change
    /// nothing on an index too small to need them.
    pub fn with_windows(mut self, matches: u64, holds: f64) -> Self {
        self.window_above = matches;
        self.window_holds = holds;
        self
    }

    /// The index's fields.
    pub fn fields(&self) -> &Fields {
        &self.fields
    }

    /// The underlying index.
    pub fn index(&self) -> &Index {
        &self.index
    }

    fn searcher(&self) -> Searcher {
        self.reader.searcher()
    }

    /// Which state of the index reads see now: changes with each commit and merge that
    /// reads picked up.
    pub fn generation(&self) -> u64 {
        self.searcher().generation().generation_id()
    }

    /// How many per-segment answers are kept (for tests).
    #[cfg(test)]
    pub fn cached_answers(&self) -> usize {
        self.aggregates.len()
    }

    /// Makes the latest commit visible now (reads also pick it up on their own shortly after).
    pub fn reload(&self) -> Result<(), QueryError> {
        Ok(self.reader.reload()?)
    }

    /// `collector`'s answer over the documents `query` matches, each segment's part taken
    /// from the cache when `what` (everything the answer depends on: the collector and its
    /// settings, the query text and filters) was asked of that segment before.
    /// What `collector` gathers from the events `query` matches, each segment's answer kept
    /// (see [`cache`]) under `describe(filters)`: a description of everything the answer
    /// depends on, `filters` being those `query` was built with.
    fn aggregate<C>(
        &self,
        searcher: &Searcher,
        query: &dyn tantivy::query::Query,
        filters: &Filters,
        describe: impl Fn(&Filters) -> String,
        collector: C,
    ) -> Result<C::Fruit, QueryError>
    where
        C: tantivy::collector::Collector,
        <C::Child as tantivy::collector::SegmentCollector>::Fruit: cache::Cacheable,
    {
        let within = (filters.from.is_some() || filters.to.is_some()).then(|| {
            let unranged = describe(&Filters {
                from: None,
                to: None,
                ..filters.clone()
            });
            cache::Within {
                from_us: filters.from.map_or(i64::MIN, |t| t.as_microsecond()),
                to_us: filters.to.map_or(i64::MAX, |t| t.as_microsecond()),
                outside: format!("nothing matches: {unranged}").into(),
                unranged: unranged.into(),
            }
        });
        let cached = cache::Cached {
            inner: collector,
            cache: &self.aggregates,
            query: describe(filters).into(),
            within,
        };
        Ok(searcher.search(query, &cached)?)
    }

    /// The query for `text` and `filters` over the events `searcher` sees.
    fn query(
        &self,
        searcher: &Searcher,
        text: &str,
        filters: &Filters,
    ) -> Result<Box<dyn tantivy::query::Query>, QueryError> {
        let blocks = self.blocks()?;
        if let Some(blocks) = blocks {
            // The blocks the searcher's events name were committed before them: seeing the
            // blocks as of now, after the searcher was taken, sees them all.
            let generation = searcher.generation().generation_id();
            if self.blocks_seen.load(Ordering::Acquire) != generation {
                blocks.reload()?;
                self.blocks_seen.store(generation, Ordering::Release);
            }
        }
        filters::build(&self.parser, &self.fields, searcher, text, filters, blocks)
    }

    /// The batch of the events indexed last (0 for an empty index): where a live view
    /// starts following.
    pub fn last_ingested(&self) -> Result<u64, QueryError> {
        let searcher = self.searcher();
        let mut last = 0;
        for segment in searcher.segment_readers() {
            let column = segment.fast_fields().u64("ingested")?;
            if segment.num_docs() > 0 {
                last = last.max(column.max_value());
            }
        }
        Ok(last)
    }

    /// The checkpoint of the file an event with `source` was read from (its key, or the
    /// path the file was last seen at), as of the last commit; `None` for a source that is no
    /// file this index read (a shipped stream's path names a file on another host).
    pub fn file_checkpoint(&self, source: &str) -> Option<FileCheckpoint> {
        let payload = self.index.load_metas().ok()?.payload;
        let checkpoints = Checkpoints::from_payload(payload.as_deref()).ok()?;
        let by_key = checkpoints.files.get(source).cloned();
        by_key.or_else(|| checkpoints.files.into_values().find(|cp| cp.path == source))
    }

    /// How many events match.
    pub fn count(&self, text: &str, filters: &Filters) -> Result<usize, QueryError> {
        let searcher = self.searcher();
        Ok(searcher.search(&self.query(&searcher, text, filters)?, &Count)?)
    }

    fn event_at(
        &self,
        searcher: &Searcher,
        address: DocAddress,
    ) -> Result<StoredEvent, QueryError> {
        Ok(EventReader::new(searcher, &self.fields, &self.columns).event(address)?)
    }

    /// The event with `id` (16 hex digits), if any.
    pub fn event(&self, id: &str) -> Result<Option<StoredEvent>, QueryError> {
        self.event_address(id)?
            .map(|(searcher, address)| self.event_at(&searcher, address))
            .transpose()
    }

    /// Where the event with `id` is stored.
    fn event_address(&self, id: &str) -> Result<Option<(Searcher, DocAddress)>, QueryError> {
        let Some(id) = crate::index::document::parse_id(id) else {
            return Err(QueryError::BadParameter(format!(
                "{id:?} is not an event id (16 hex digits)"
            )));
        };
        let searcher = self.searcher();
        for (ord, segment) in searcher.segment_readers().iter().enumerate() {
            let ord = ord as u32;
            let columns = self.columns.get(&searcher, ord)?;
            let live = |doc| !segment.is_deleted(doc);
            if let Some(doc) = columns.ids.find(id, segment.max_doc(), live) {
                return Ok(Some((searcher, DocAddress::new(ord, doc))));
            }
        }
        Ok(None)
    }

    /// Top values with counts of level, app, env, host, tag and logtype among the matching
    /// events, at most `top` per field.
    pub fn field_values(
        &self,
        text: &str,
        filters: &Filters,
        top: usize,
    ) -> Result<std::collections::BTreeMap<String, Vec<ValueCount>>, QueryError> {
        let searcher = self.searcher();
        let query = self.query(&searcher, text, filters)?;
        let describe = |filters: &Filters| format!("fields {text:?} {filters:?}");
        let counts = self.aggregate(
            &searcher,
            &*query,
            filters,
            describe,
            fields::FieldsCollector,
        )?;
        Ok(counts
            .into_iter()
            .map(|(field, values)| {
                let mut sorted = sorted_counts(values);
                sorted.truncate(top);
                (field, sorted)
            })
            .collect())
    }
}

fn sorted_counts(map: std::collections::HashMap<String, u64>) -> Vec<ValueCount> {
    let mut v: Vec<ValueCount> = map
        .into_iter()
        .map(|(value, count)| ValueCount { value, count })
        .collect();
    v.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
    v
}

/// A time in microseconds as RFC 3339; times beyond what can be written are clamped.
fn micros_to_string(us: i64) -> String {
    let (min, max) = (
        Timestamp::MIN.as_microsecond(),
        Timestamp::MAX.as_microsecond(),
    );
    Timestamp::from_microsecond(us.clamp(min, max))
        .expect("clamped into range")
        .to_string()
}

/// The breakdown dimension names, as the API and CLI print them.
pub fn dimensions() -> [&'static str; 4] {
    DIMENSIONS
}
