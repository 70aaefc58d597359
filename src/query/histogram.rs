//! Counts per time bucket.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::Column;
use tantivy::index::SegmentReader;
use tantivy::{DateTime, DocId, Score, Searcher, SegmentOrdinal};

use super::filters::{Filters, QueryError};
use super::{Reader, micros_to_string};

/// Counts per time bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Histogram {
    /// Start of the first bucket, RFC 3339.
    pub from: String,
    pub interval_seconds: i64,
    /// `[bucket start, count]` pairs.
    pub buckets: Vec<(String, u64)>,
}

impl Reader {
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
        let query = self.query(&searcher, text, filters)?;
        let (from, to) = self.span(&searcher, &*query, text, filters)?;
        let interval_s = match interval {
            Some(i) if (1..=MAX_INTERVAL_SECONDS).contains(&i) => i,
            Some(_) => {
                return Err(QueryError::BadParameter(format!(
                    "interval must be between 1 and {MAX_INTERVAL_SECONDS} seconds"
                )));
            }
            None => auto_interval(from, to),
        };
        // An interval too fine for the range is widened (as Kibana scales its buckets) to
        // the smallest that gives at most ten times the automatic count; the answer's
        // `interval_seconds` says which was used.
        let most = 10 * MAX_BUCKETS;
        let span_s = ((to - from).max(1) + 999_999) / 1_000_000;
        let interval_s = interval_s.max((span_s + most - 1) / most);
        let interval_us = interval_s * 1_000_000;
        let from = from.div_euclid(interval_us) * interval_us;
        let buckets = ((to - from).max(1) + interval_us - 1) / interval_us;
        debug_assert!(buckets <= most + 1, "{buckets} buckets");
        let collector = HistogramCollector {
            from_us: from,
            interval_us,
            buckets: buckets as usize,
        };
        let describe = |filters: &Filters| {
            format!("histogram {from} {interval_us} {buckets} {text:?} {filters:?}")
        };
        let counts = self.aggregate(&searcher, &*query, filters, describe, collector)?;
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
    pub(super) fn span(
        &self,
        searcher: &Searcher,
        query: &dyn tantivy::query::Query,
        text: &str,
        filters: &Filters,
    ) -> Result<(i64, i64), QueryError> {
        if let (Some(from), Some(to)) = (filters.from, filters.to) {
            return Ok((from.as_microsecond(), to.as_microsecond()));
        }
        let (lo, hi) = self.time_range(searcher, query, text, filters)?;
        let from = filters.from.map_or(lo, |t| t.as_microsecond());
        let to = filters.to.map_or(hi + 1, |t| t.as_microsecond());
        Ok((from, to))
    }

    /// Earliest and latest time (microseconds) among the matching events.
    fn time_range(
        &self,
        searcher: &Searcher,
        query: &dyn tantivy::query::Query,
        text: &str,
        filters: &Filters,
    ) -> Result<(i64, i64), QueryError> {
        let now = Timestamp::now().as_microsecond();
        let describe = |filters: &Filters| format!("span {text:?} {filters:?}");
        let (lo, hi) =
            match self.aggregate(searcher, query, filters, describe, TimeRangeCollector)? {
                Some((lo, hi)) => (lo, hi),
                None => (now - 3_600_000_000, now),
            };
        Ok((lo, hi))
    }
}

/// The earliest and latest time (microseconds) among the matching documents that have one.
pub struct TimeRangeCollector;

pub struct SegmentTimeRange {
    times: Times,
    range: Option<(i64, i64)>,
}

/// A segment's event times (microseconds), read a block of documents at a time.
struct Times {
    ts: Column<DateTime>,
    buffer: Vec<Option<DateTime>>,
}

impl Times {
    fn open(reader: &SegmentReader) -> tantivy::Result<Times> {
        Ok(Times {
            ts: reader.fast_fields().date("ts")?,
            buffer: Vec::new(),
        })
    }

    /// The times of those of `docs` that have one.
    fn of(&mut self, docs: &[DocId]) -> impl Iterator<Item = i64> + '_ {
        self.buffer.clear();
        self.buffer.resize(docs.len(), None);
        self.ts.first_vals(docs, &mut self.buffer);
        self.buffer
            .iter()
            .flatten()
            .map(|t| t.into_timestamp_micros())
    }
}

fn widen(range: Option<(i64, i64)>, lo: i64, hi: i64) -> Option<(i64, i64)> {
    Some(range.map_or((lo, hi), |(l, h)| (l.min(lo), h.max(hi))))
}

impl Collector for TimeRangeCollector {
    type Fruit = Option<(i64, i64)>;
    type Child = SegmentTimeRange;

    fn for_segment(
        &self,
        _: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<SegmentTimeRange> {
        Ok(SegmentTimeRange {
            times: Times::open(reader)?,
            range: None,
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<Self::Fruit>) -> tantivy::Result<Self::Fruit> {
        Ok(fruits
            .into_iter()
            .flatten()
            .fold(None, |all, (lo, hi)| widen(all, lo, hi)))
    }
}

impl SegmentCollector for SegmentTimeRange {
    type Fruit = Option<(i64, i64)>;

    fn collect(&mut self, doc: DocId, _: Score) {
        self.collect_block(&[doc]);
    }

    fn collect_block(&mut self, docs: &[DocId]) {
        for t in self.times.of(docs) {
            self.range = widen(self.range, t, t);
        }
    }

    fn harvest(self) -> Self::Fruit {
        self.range
    }
}

/// Bucket widths offered, in seconds: the first that gives at most `MAX_BUCKETS` is used.
const NICE_INTERVALS: &[i64] = &[
    1,
    5,
    10,
    30,
    60,
    300,
    600,
    1800,
    3600,
    3 * 3600,
    6 * 3600,
    12 * 3600,
    86_400,
    7 * 86_400,
    30 * 86_400,
    365 * 86_400,
];
/// Most buckets an automatic interval gives: enough for a readable chart, few enough to
/// draw and send cheaply.
pub const MAX_BUCKETS: i64 = 120;

/// Widest bucket asked for: ten years (wider ones overflowed the arithmetic in microseconds).
pub const MAX_INTERVAL_SECONDS: i64 = 10 * 366 * 86_400;

/// The smallest nice interval (seconds) that cuts `[from, to)` (microseconds) into at most
/// [`MAX_BUCKETS`] buckets.
pub fn auto_interval(from_us: i64, to_us: i64) -> i64 {
    let span = ((to_us - from_us).max(1) + 999_999) / 1_000_000;
    NICE_INTERVALS
        .iter()
        .copied()
        .find(|i| span / i < MAX_BUCKETS)
        .unwrap_or(*NICE_INTERVALS.last().expect("not empty"))
}

/// Counts matching documents per bucket of `interval_us` starting at `from_us`; documents
/// outside `[from, from + buckets * interval)` or without time are not counted.
pub struct HistogramCollector {
    pub from_us: i64,
    pub interval_us: i64,
    pub buckets: usize,
}

pub struct SegmentHistogram {
    times: Times,
    from_us: i64,
    interval_us: i64,
    counts: Vec<u64>,
}

impl Collector for HistogramCollector {
    type Fruit = Vec<u64>;
    type Child = SegmentHistogram;

    fn for_segment(
        &self,
        _: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<SegmentHistogram> {
        Ok(SegmentHistogram {
            times: Times::open(reader)?,
            from_us: self.from_us,
            interval_us: self.interval_us,
            counts: vec![0; self.buckets],
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<Vec<u64>>) -> tantivy::Result<Vec<u64>> {
        let mut total = vec![0; self.buckets];
        for fruit in fruits {
            for (t, c) in total.iter_mut().zip(fruit) {
                *t += c;
            }
        }
        Ok(total)
    }
}

impl SegmentCollector for SegmentHistogram {
    type Fruit = Vec<u64>;

    fn collect(&mut self, doc: DocId, _: Score) {
        self.collect_block(&[doc]);
    }

    fn collect_block(&mut self, docs: &[DocId]) {
        for ts in self.times.of(docs) {
            let offset = ts - self.from_us;
            if offset < 0 {
                continue;
            }
            if let Some(bucket) = self.counts.get_mut((offset / self.interval_us) as usize) {
                *bucket += 1;
            }
        }
    }

    fn harvest(self) -> Vec<u64> {
        self.counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals() {
        let hour = 3_600_000_000;
        assert_eq!(auto_interval(0, hour), 60);
        assert_eq!(auto_interval(0, 24 * hour), 1800);
        assert_eq!(auto_interval(0, 30 * 24 * hour), 12 * 3600);
        assert_eq!(auto_interval(0, 1), 1);
    }
}
