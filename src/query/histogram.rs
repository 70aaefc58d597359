//! Counts per time bucket.

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::Column;
use tantivy::index::SegmentReader;
use tantivy::{DateTime, DocId, Score, SegmentOrdinal};

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
    ts: Column<DateTime>,
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
            ts: reader.fast_fields().date("ts")?,
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
        let Some(ts) = self.ts.first(doc) else {
            return;
        };
        let offset = ts.into_timestamp_micros() - self.from_us;
        if offset < 0 {
            return;
        }
        if let Some(bucket) = self.counts.get_mut((offset / self.interval_us) as usize) {
            *bucket += 1;
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
