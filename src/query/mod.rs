//! Stage 6, query: query text and filters into tantivy queries; events newest first,
//! histograms, and exception groups with exact counts.
//!
//! Opens the index read-only and sees new commits as they land. Never writes.

mod events;
mod filters;
mod groups;
mod histogram;
pub mod time;

use std::path::Path;

use jiff::Timestamp;
use serde::Serialize;
use serde_json::Value;
use tantivy::collector::{Count, TopDocs};
use tantivy::query::QueryParser;
use tantivy::schema::Value as _;
use tantivy::{DateTime, DocAddress, Index, IndexReader, Order, Searcher, TantivyDocument};

pub use events::event_json;
pub use filters::{Filters, QueryError};
use groups::{DIMENSIONS, GroupCollector, GroupStats};
use histogram::HistogramCollector;
pub use histogram::{MAX_BUCKETS, auto_interval};

use crate::error::Error;
use crate::index::Fields;
use crate::index::schema::from_date;

/// Most events one search returns.
pub const MAX_LIMIT: usize = 10_000;

/// A read-only view of the index under a data directory.
pub struct Reader {
    index: Index,
    reader: IndexReader,
    fields: Fields,
    parser: QueryParser,
}

/// One value of a breakdown and how many events have it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ValueCount {
    pub value: String,
    pub count: u64,
}

/// An exception group as listed: the fields of `stackfold exceptions --json` and
/// `GET /api/exceptions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupSummary {
    pub fingerprint: String,
    pub count: u64,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
    pub root_type: String,
    pub template: String,
    pub language: String,
    /// `module.function` of the latest event's most recent in-app frame.
    pub top_frame: Option<String>,
    /// The image tag of the earliest matching event.
    pub first_tag: Option<String>,
    pub apps: Vec<ValueCount>,
    pub envs: Vec<ValueCount>,
    pub hosts: Vec<ValueCount>,
    pub tags: Vec<ValueCount>,
    #[serde(skip)]
    latest: Option<DocAddress>,
}

/// Counts per time bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Histogram {
    /// Start of the first bucket, RFC 3339.
    pub from: String,
    pub interval_seconds: i64,
    /// `[bucket start, count]` pairs.
    pub buckets: Vec<(String, u64)>,
}

/// One group in full: summary, latest event, explanation, histogram and samples.
#[derive(Debug, Clone, Serialize)]
pub struct GroupDetail {
    #[serde(flatten)]
    pub summary: GroupSummary,
    /// The latest event of the group, whose trace stands for the group.
    pub latest: Value,
    /// The components hashed into the fingerprint.
    pub explain: Vec<String>,
    pub histogram: Histogram,
    /// The newest events of the group.
    pub samples: Vec<Value>,
}

impl Reader {
    /// Opens the index under `data`.
    pub fn open(data: &Path) -> Result<Reader, Error> {
        let (index, fields) = crate::index::open(data)?;
        Self::new(index, fields)
    }

    /// A reader over an opened index.
    pub fn new(index: Index, fields: Fields) -> Result<Reader, Error> {
        let reader = index.reader().map_err(|e| Error::Index(e.to_string()))?;
        let mut parser = QueryParser::for_index(&index, vec![fields.body]);
        parser.set_conjunction_by_default();
        parser.allow_regexes();
        Ok(Reader {
            index,
            reader,
            fields,
            parser,
        })
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

    /// Makes the latest commit visible now (reads also pick it up on their own shortly after).
    pub fn reload(&self) -> Result<(), QueryError> {
        Ok(self.reader.reload()?)
    }

    fn query(
        &self,
        text: &str,
        filters: &Filters,
    ) -> Result<Box<dyn tantivy::query::Query>, QueryError> {
        filters::build(&self.parser, &self.fields, text, filters)
    }

    /// How many events match.
    pub fn count(&self, text: &str, filters: &Filters) -> Result<usize, QueryError> {
        Ok(self
            .searcher()
            .search(&self.query(text, filters)?, &Count)?)
    }

    /// The `limit` newest matching events (events without time come last).
    pub fn search(
        &self,
        text: &str,
        filters: &Filters,
        limit: usize,
    ) -> Result<Vec<Value>, QueryError> {
        if limit == 0 || limit > MAX_LIMIT {
            return Err(QueryError::BadParameter(format!(
                "limit must be between 1 and {MAX_LIMIT}"
            )));
        }
        let searcher = self.searcher();
        let top = TopDocs::with_limit(limit).order_by_fast_field::<DateTime>("ts", Order::Desc);
        let hits = searcher.search(&self.query(text, filters)?, &top)?;
        hits.into_iter()
            .map(|(_, address)| self.event_at(&searcher, address))
            .collect()
    }

    fn event_at(&self, searcher: &Searcher, address: DocAddress) -> Result<Value, QueryError> {
        let doc: TantivyDocument = searcher.doc(address)?;
        Ok(event_json(&self.fields, &doc))
    }

    /// The event with `id` (16 hex digits), if any.
    pub fn event(&self, id: &str) -> Result<Option<Value>, QueryError> {
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
        let term = tantivy::Term::from_field_u64(self.fields.id, id);
        let query = tantivy::query::RangeQuery::new(
            std::ops::Bound::Included(term.clone()),
            std::ops::Bound::Included(term),
        );
        let searcher = self.searcher();
        let hits = searcher.search(&query, &TopDocs::with_limit(1).order_by_score())?;
        Ok(hits
            .into_iter()
            .next()
            .map(|(_, address)| (searcher, address)))
    }

    /// Counts per bucket of the matching events between `filters.from` and `filters.to`
    /// (defaulting to the matching events' first and last times); `interval` in seconds,
    /// automatic when `None`.
    pub fn histogram(
        &self,
        text: &str,
        filters: &Filters,
        interval: Option<i64>,
    ) -> Result<Histogram, QueryError> {
        let searcher = self.searcher();
        let query = self.query(text, filters)?;
        let (from, to) = match (filters.from, filters.to) {
            (Some(from), Some(to)) => (from.as_microsecond(), to.as_microsecond()),
            (from, to) => {
                let (lo, hi) = self.time_range(&searcher, &*query)?;
                (
                    from.map_or(lo, |t| t.as_microsecond()),
                    to.map_or(hi + 1, |t| t.as_microsecond()),
                )
            }
        };
        let interval_s = match interval {
            Some(i) if i > 0 => i,
            Some(_) => return Err(QueryError::BadParameter("interval must be positive".into())),
            None => auto_interval(from, to),
        };
        let interval_us = interval_s * 1_000_000;
        let from = from.div_euclid(interval_us) * interval_us;
        let buckets = ((to - from).max(1) + interval_us - 1) / interval_us;
        if buckets > 10 * MAX_BUCKETS {
            return Err(QueryError::BadParameter(format!(
                "interval {interval_s}s gives {buckets} buckets (at most {})",
                10 * MAX_BUCKETS
            )));
        }
        let collector = HistogramCollector {
            from_us: from,
            interval_us,
            buckets: buckets as usize,
        };
        let counts = searcher.search(&*query, &collector)?;
        let start = |i: usize| micros_to_string(from + i as i64 * interval_us);
        Ok(Histogram {
            from: micros_to_string(from),
            interval_seconds: interval_s,
            buckets: counts
                .into_iter()
                .enumerate()
                .map(|(i, c)| (start(i), c))
                .collect(),
        })
    }

    /// Earliest and latest time (microseconds) among the matching events.
    fn time_range(
        &self,
        searcher: &Searcher,
        query: &dyn tantivy::query::Query,
    ) -> Result<(i64, i64), QueryError> {
        let oldest = TopDocs::with_limit(1).order_by_fast_field::<DateTime>("ts", Order::Asc);
        let newest = TopDocs::with_limit(1).order_by_fast_field::<DateTime>("ts", Order::Desc);
        let (lo, hi) = searcher.search(query, &(oldest, newest))?;
        let micros = |hits: Vec<(Option<DateTime>, DocAddress)>| {
            hits.into_iter()
                .next()
                .and_then(|h| h.0)
                .map(|d| d.into_timestamp_micros())
        };
        let now = Timestamp::now().as_microsecond();
        let hi = micros(hi).unwrap_or(now);
        Ok((micros(lo).unwrap_or(hi - 3_600_000_000), hi))
    }

    /// The exception groups of the matching events, most frequent first.
    pub fn groups(&self, text: &str, filters: &Filters) -> Result<Vec<GroupSummary>, QueryError> {
        let searcher = self.searcher();
        let filters = Filters {
            exceptions_only: true,
            ..filters.clone()
        };
        let stats = searcher.search(&*self.query(text, &filters)?, &GroupCollector)?;
        let mut groups: Vec<(String, GroupStats)> = stats.into_iter().collect();
        groups.sort_by(|a, b| b.1.count.cmp(&a.1.count).then_with(|| a.0.cmp(&b.0)));
        groups
            .into_iter()
            .map(|(fp, stats)| self.summary(&searcher, fp, stats))
            .collect()
    }

    fn summary(
        &self,
        searcher: &Searcher,
        fingerprint: String,
        stats: GroupStats,
    ) -> Result<GroupSummary, QueryError> {
        let latest = match stats.latest_doc {
            Some(address) => Some(searcher.doc::<TantivyDocument>(address)?),
            None => None,
        };
        let stored = |field| {
            latest
                .as_ref()
                .and_then(|d| d.get_first(field))
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .to_owned()
        };
        let exception: Option<Value> = latest
            .as_ref()
            .and_then(|d| d.get_first(self.fields.exception))
            .and_then(|v| v.as_str())
            .and_then(|s| serde_json::from_str(s).ok());
        let [apps, envs, hosts, tags] = stats.breakdowns.map(sorted_counts);
        Ok(GroupSummary {
            fingerprint,
            count: stats.count,
            first_seen: stats.first.as_ref().map(|f| micros_to_string(f.0)),
            last_seen: stats.last.as_ref().map(|l| micros_to_string(l.0)),
            root_type: stored(self.fields.root_type),
            template: stored(self.fields.template),
            language: exception
                .as_ref()
                .and_then(|e| e["language"].as_str())
                .unwrap_or("")
                .to_owned(),
            top_frame: exception.as_ref().and_then(top_in_app_frame),
            first_tag: stats.first.and_then(|f| f.1),
            apps,
            envs,
            hosts,
            tags,
            latest: stats.latest_doc,
        })
    }

    /// The group `fingerprint` among the matching events, with `samples` newest events.
    pub fn group(
        &self,
        fingerprint: &str,
        filters: &Filters,
        samples: usize,
    ) -> Result<Option<GroupDetail>, QueryError> {
        let filters = Filters {
            fingerprint: vec![fingerprint.to_owned()],
            ..filters.clone()
        };
        let Some(summary) = self.groups("", &filters)?.into_iter().next() else {
            return Ok(None);
        };
        let searcher = self.searcher();
        let latest = match summary.latest {
            Some(address) => self.event_at(&searcher, address)?,
            None => Value::Null,
        };
        let explain = latest["exception"]["explain"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let histogram = self.histogram("", &filters, None)?;
        let samples = self.search("", &filters, samples.max(1))?;
        Ok(Some(GroupDetail {
            summary,
            latest,
            explain,
            histogram,
            samples,
        }))
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

fn top_in_app_frame(exception: &Value) -> Option<String> {
    let chain = exception["chain"].as_array()?;
    chain.iter().rev().find_map(|exc| {
        exc["frames"]
            .as_array()?
            .iter()
            .find(|f| f["in_app"] == Value::Bool(true))
            .map(|f| {
                format!(
                    "{}.{}",
                    f["module"].as_str().unwrap_or(""),
                    f["function"].as_str().unwrap_or("")
                )
            })
    })
}

fn micros_to_string(us: i64) -> String {
    from_date(DateTime::from_timestamp_micros(us)).to_string()
}

/// The breakdown dimension names, as the API and CLI print them.
pub fn dimensions() -> [&'static str; 4] {
    DIMENSIONS
}
