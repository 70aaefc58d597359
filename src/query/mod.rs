//! Stage 6, query: query text and filters into tantivy queries; events newest first,
//! histograms, and exception groups with exact counts.
//!
//! Opens the index read-only and sees new commits as they land. Never writes.

mod events;
mod fields;
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

use events::ColumnCache;
pub use events::EventReader;
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
    /// Likely matches above which searches go by time windows, and how many times the
    /// wanted hits the first window should hold (see [`Reader::newest`]).
    window_above: u64,
    window_holds: f64,
    columns: ColumnCache,
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
    /// Events per trend bucket (see [`GroupList`]); empty unless asked for.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub trend: Vec<u64>,
    #[serde(skip)]
    latest: Option<DocAddress>,
}

/// How to order groups.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum GroupSort {
    /// Most events first.
    #[default]
    Count,
    /// Most recently seen first.
    LastSeen,
    /// Most recently appeared first.
    FirstSeen,
}

impl std::str::FromStr for GroupSort {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "count" => Ok(GroupSort::Count),
            "last_seen" => Ok(GroupSort::LastSeen),
            "first_seen" => Ok(GroupSort::FirstSeen),
            other => Err(format!(
                "sort {other:?}: use count, last_seen or first_seen"
            )),
        }
    }
}

/// Groups with the trend buckets their `trend` series count.
#[derive(Debug, Clone, Serialize)]
pub struct GroupList {
    pub groups: Vec<GroupSummary>,
    /// Start of the first trend bucket.
    pub trend_from: Option<String>,
    pub trend_interval_seconds: Option<i64>,
}

/// One page of search results, newest first.
#[derive(Debug, Clone, Serialize)]
pub struct SearchPage {
    /// Events, each with `snippet`: the matching part of its body as HTML, terms in `<b>`.
    pub hits: Vec<Value>,
    /// How many events match in all.
    pub total: usize,
    /// Pass as `cursor` to get the next page; `None` on the last page.
    pub cursor: Option<String>,
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

/// Above this many likely matches, [`Reader::newest`] searches time windows: below it,
/// sorting all matches takes less than a windowed attempt or two.
const WINDOW_ABOVE_MATCHES: u64 = 500_000;
/// How many times `k` matches the first window would hold if matches were spread evenly:
/// logs are not (nights, bursts), and a second attempt costs more than a wider first one.
const WINDOW_HOLDS: f64 = 32.0;
/// The narrowest first window: a millisecond.
const MIN_WINDOW_MICROS: i64 = 1_000;

/// At most how many events `query` can match: the document frequency of its rarest term
/// (exact for one term, an upper bound for a conjunction), or every event for a query
/// without terms.
fn estimated_matches(searcher: &Searcher, query: &dyn tantivy::query::Query) -> u64 {
    let mut rarest: Option<u64> = None;
    query.query_terms(&mut |term, _| {
        let freq = searcher.doc_freq(term).unwrap_or(0);
        rarest = Some(rarest.map_or(freq, |r| r.min(freq)));
    });
    rarest.unwrap_or_else(|| searcher.num_docs())
}

/// The times of the oldest and newest events, in microseconds, if any event has one.
fn time_bounds(searcher: &Searcher) -> Result<Option<(i64, i64)>, QueryError> {
    let mut bounds: Option<(i64, i64)> = None;
    for segment in searcher.segment_readers() {
        let Ok(column) = segment.fast_fields().date("ts") else {
            continue;
        };
        if column.values.num_vals() == 0 || segment.num_docs() == 0 {
            continue;
        }
        let (lo, hi) = (
            column.min_value().into_timestamp_micros(),
            column.max_value().into_timestamp_micros(),
        );
        bounds = Some(bounds.map_or((lo, hi), |(a, b)| (a.min(lo), b.max(hi))));
    }
    Ok(bounds)
}

impl Reader {
    /// Opens the index under `data`.
    pub fn open(data: &Path) -> Result<Reader, Error> {
        let (index, fields) = crate::index::open(data)?;
        Self::new(index, fields)
    }

    /// A reader over an opened index.
    pub fn new(mut index: Index, fields: Fields) -> Result<Reader, Error> {
        // Segments are searched in parallel, one thread per core: a query over millions of
        // matches spreads over the cores (the server bounds how many queries run at once).
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        index
            .set_multithread_executor(cores)
            .map_err(|e| Error::Index(e.to_string()))?;
        let reader = index.reader().map_err(|e| Error::Index(e.to_string()))?;
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
        let hits = self.newest(&searcher, text, filters, limit)?;
        let events = EventReader::new(&searcher, &self.fields, &self.columns);
        hits.into_iter()
            .map(|(_, address)| Ok(events.event(address)?))
            .collect()
    }

    /// The `k` newest matching events (those without time last).
    ///
    /// Sorting every match by time costs time in proportion to the matches: a phrase found
    /// in a million events takes tens of milliseconds. When a query may match that many
    /// (judged by the rarest of its terms), it first runs on a time window ending at the
    /// newest event, wide enough to hold about `4 k` matches if they were spread evenly, and
    /// the window grows sixteenfold until it holds `k` matches or covers the whole range. As
    /// every match outside a window is older than every match in it, the answer is the same.
    fn newest(
        &self,
        searcher: &Searcher,
        text: &str,
        filters: &Filters,
        k: usize,
    ) -> Result<Vec<(Option<DateTime>, DocAddress)>, QueryError> {
        let top = TopDocs::with_limit(k).order_by_fast_field::<DateTime>("ts", Order::Desc);
        let query = self.query(text, filters)?;
        if let Some((first, last)) = time_bounds(searcher)? {
            let after_last = Timestamp::from_microsecond(last + 1).unwrap_or(Timestamp::MAX);
            let upper = filters.to.map_or(after_last, |to| to.min(after_last));
            let lower_bound = filters
                .from
                .map_or(first, |f| f.as_microsecond().max(first));
            // Matches spread evenly over the index's time span, counted in the range asked.
            let span = (last - first).max(1) as f64;
            let asked = (upper.as_microsecond() - lower_bound).max(0) as f64;
            let per_micro = estimated_matches(searcher, &*query) as f64 / span;
            let in_range = per_micro * asked;
            if in_range < self.window_above as f64 {
                return Ok(searcher.search(&*query, &top)?);
            }
            // Each attempt costs a pass over the time column: aim to need just one.
            let even = self.window_holds * k as f64 / per_micro;
            let mut width = (even as i64).max(MIN_WINDOW_MICROS);
            while let Some(lower) = upper.as_microsecond().checked_sub(width)
                && lower > lower_bound
            {
                let window = Filters {
                    from: Timestamp::from_microsecond(lower).ok(),
                    to: Some(upper),
                    ..filters.clone()
                };
                let hits = searcher.search(&*self.query(text, &window)?, &top)?;
                if hits.len() >= k {
                    return Ok(hits);
                }
                width = width.saturating_mul(16);
            }
        }
        Ok(searcher.search(&*query, &top)?)
    }

    fn event_at(&self, searcher: &Searcher, address: DocAddress) -> Result<Value, QueryError> {
        Ok(EventReader::new(searcher, &self.fields, &self.columns).event(address)?)
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
        let (from, to) = self.span(&searcher, &*query, filters)?;
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

    /// The time range (microseconds, end exclusive) the filters give, completed where they
    /// leave it open by the matching events' first and last times.
    fn span(
        &self,
        searcher: &Searcher,
        query: &dyn tantivy::query::Query,
        filters: &Filters,
    ) -> Result<(i64, i64), QueryError> {
        if let (Some(from), Some(to)) = (filters.from, filters.to) {
            return Ok((from.as_microsecond(), to.as_microsecond()));
        }
        let (lo, hi) = self.time_range(searcher, query)?;
        let from = filters.from.map_or(lo, |t| t.as_microsecond());
        let to = filters.to.map_or(hi + 1, |t| t.as_microsecond());
        Ok((from, to))
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
        Ok(self
            .group_list(text, filters, GroupSort::Count, usize::MAX, 0)?
            .groups)
    }

    /// The exception groups of the matching events in `sort` order, at most `limit`, each
    /// with a trend of `trend_buckets` buckets over the filters' time range (none if 0).
    pub fn group_list(
        &self,
        text: &str,
        filters: &Filters,
        sort: GroupSort,
        limit: usize,
        trend_buckets: usize,
    ) -> Result<GroupList, QueryError> {
        let searcher = self.searcher();
        let filters = Filters {
            exceptions_only: true,
            ..filters.clone()
        };
        let query = self.query(text, &filters)?;
        let mut collector = GroupCollector::default();
        if trend_buckets > 0 {
            let (lo, hi) = self.span(&searcher, &*query, &filters)?;
            let span = (hi - lo).max(1);
            collector = GroupCollector {
                from_us: lo,
                interval_us: (span + trend_buckets as i64 - 1) / trend_buckets as i64,
                buckets: trend_buckets,
            };
        }
        let stats = searcher.search(&*query, &collector)?;
        let mut groups: Vec<(String, GroupStats)> = stats.into_iter().collect();
        let last = |s: &GroupStats| s.last.map_or(i64::MIN, |l| l.0);
        let first = |s: &GroupStats| s.first.as_ref().map_or(i64::MIN, |f| f.0);
        groups.sort_by(|a, b| {
            let order = match sort {
                GroupSort::Count => b.1.count.cmp(&a.1.count),
                GroupSort::LastSeen => last(&b.1).cmp(&last(&a.1)),
                GroupSort::FirstSeen => first(&b.1).cmp(&first(&a.1)),
            };
            order.then_with(|| a.0.cmp(&b.0))
        });
        groups.truncate(limit);
        let groups = groups
            .into_iter()
            .map(|(fp, stats)| self.summary(&searcher, fp, stats))
            .collect::<Result<_, _>>()?;
        let trended = collector.buckets > 0;
        Ok(GroupList {
            groups,
            trend_from: trended.then(|| micros_to_string(collector.from_us)),
            trend_interval_seconds: trended.then(|| (collector.interval_us / 1_000_000).max(1)),
        })
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
        let counts = searcher.search(&*self.query(text, filters)?, &fields::FieldsCollector)?;
        Ok(counts
            .into_iter()
            .map(|(field, values)| {
                let mut sorted = sorted_counts(values);
                sorted.truncate(top);
                (field, sorted)
            })
            .collect())
    }

    /// One page of the matching events, newest first, after `cursor` (from a previous page).
    pub fn search_page(
        &self,
        text: &str,
        filters: &Filters,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<SearchPage, QueryError> {
        if limit == 0 || limit > MAX_LIMIT {
            return Err(QueryError::BadParameter(format!(
                "limit must be between 1 and {MAX_LIMIT}"
            )));
        }
        let after = cursor.map(Cursor::parse).transpose()?;
        let mut page_filters = filters.clone();
        let mut skip = 0;
        match after {
            Some(Cursor::Timed { ts_us, seen }) => {
                let upper = Timestamp::from_microsecond(ts_us + 1)
                    .map_err(|e| QueryError::BadParameter(format!("cursor: {e}")))?;
                page_filters.to = Some(page_filters.to.map_or(upper, |t| t.min(upper)));
                skip = seen;
            }
            Some(Cursor::Untimed { seen }) => {
                page_filters.untimed_only = true;
                skip = seen;
            }
            None => {}
        }
        let searcher = self.searcher();
        let total = searcher.search(&*self.query(text, filters)?, &Count)?;
        let query = self.query(text, &page_filters)?;
        let found = self.newest(&searcher, text, &page_filters, limit + skip + 1)?;
        let mut hits_at: Vec<(Option<i64>, DocAddress)> = Vec::new();
        let mut skipped = 0;
        for (ts, address) in found {
            let ts = ts.map(|d| d.into_timestamp_micros());
            let at_cursor = match after {
                Some(Cursor::Timed { ts_us, .. }) => ts == Some(ts_us),
                Some(Cursor::Untimed { .. }) => true,
                None => false,
            };
            if at_cursor && skipped < skip {
                skipped += 1;
                continue;
            }
            hits_at.push((ts, address));
        }
        let more = hits_at.len() > limit;
        hits_at.truncate(limit);
        let next = if more {
            match hits_at.last() {
                Some((Some(last_ts), _)) => {
                    let same = hits_at.iter().filter(|(t, _)| *t == Some(*last_ts)).count();
                    let carried = match after {
                        Some(Cursor::Timed { ts_us, seen }) if ts_us == *last_ts => seen,
                        _ => 0,
                    };
                    Some(Cursor::Timed {
                        ts_us: *last_ts,
                        seen: same + carried,
                    })
                }
                Some((None, _)) => {
                    let untimed = hits_at.iter().filter(|(t, _)| t.is_none()).count();
                    let carried = match after {
                        Some(Cursor::Untimed { seen }) => seen,
                        _ => 0,
                    };
                    Some(Cursor::Untimed {
                        seen: untimed + carried,
                    })
                }
                None => None,
            }
        } else if matches!(after, Some(Cursor::Timed { .. })) {
            // The timed events are done; those without a time follow.
            let untimed = Filters {
                untimed_only: true,
                ..filters.clone()
            };
            let left = searcher.search(&*self.query(text, &untimed)?, &Count)?;
            (left > 0).then_some(Cursor::Untimed { seen: 0 })
        } else {
            None
        };
        let next = next.map(|c| c.to_string());
        let snippets =
            tantivy::snippet::SnippetGenerator::create(&searcher, &*query, self.fields.body).ok();
        let mut hits = Vec::with_capacity(hits_at.len());
        let events = EventReader::new(&searcher, &self.fields, &self.columns);
        for (_, address) in hits_at {
            let mut event = events.event(address)?;
            if let Some(generator) = &snippets {
                let body = body_of(&event);
                let html = generator.snippet(&body).to_html();
                event["snippet"] = Value::String(html);
            }
            hits.push(event);
        }
        Ok(SearchPage {
            hits,
            total,
            cursor: next,
        })
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
            root_type: exception
                .as_ref()
                .and_then(|e| e["root_type"].as_str())
                .unwrap_or("")
                .to_owned(),
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
            trend: stats.trend,
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

/// The searchable body of an event as JSON: its message and continuation lines.
fn body_of(event: &Value) -> String {
    let message = event["message"].as_str().unwrap_or("");
    match event["text"].as_str().and_then(|t| t.split_once('\n')) {
        Some((_, rest)) => format!("{message}\n{rest}"),
        None => message.to_owned(),
    }
}

/// Where a page ended: the time of its last event and how many events at that exact time
/// were already returned, or how many of the events without time were (they come last).
/// Pages of one query are stable while the index does not change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cursor {
    Timed { ts_us: i64, seen: usize },
    Untimed { seen: usize },
}

impl Cursor {
    fn parse(text: &str) -> Result<Cursor, QueryError> {
        let bad =
            || QueryError::BadParameter(format!("cursor {text:?} is not one this server gave"));
        let number = |s: &str| s.parse::<i64>().map_err(|_| bad());
        match text.split('_').collect::<Vec<_>>().as_slice() {
            ["t", ts, seen] => Ok(Cursor::Timed {
                ts_us: number(ts)?,
                seen: number(seen)? as usize,
            }),
            ["n", seen] => Ok(Cursor::Untimed {
                seen: number(seen)? as usize,
            }),
            _ => Err(bad()),
        }
    }
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cursor::Timed { ts_us, seen } => write!(f, "t_{ts_us}_{seen}"),
            Cursor::Untimed { seen } => write!(f, "n_{seen}"),
        }
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
