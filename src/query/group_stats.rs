//! Exception groups with exact counts, gathered from fast fields in one pass over the
//! matching documents: count, first and last seen, and counts per app, env, host and tag.

use std::collections::HashMap;

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::{Column, StrColumn};
use tantivy::index::SegmentReader;
use tantivy::{DateTime, DocAddress, DocId, Score, SegmentOrdinal};

/// The breakdown dimensions, in the order of [`GroupStats::breakdowns`].
pub const DIMENSIONS: [&str; 4] = ["app", "env", "host", "tag"];

/// What one group's matching events add up to.
#[derive(Debug, Clone, Default)]
pub struct GroupStats {
    pub count: u64,
    /// Earliest time (microseconds) and the tag of that event.
    pub first: Option<(i64, Option<String>)>,
    /// Latest time (microseconds) and that event's address.
    pub last: Option<(i64, DocAddress)>,
    /// The latest event whatever its time (events without time count as oldest).
    pub latest_doc: Option<DocAddress>,
    /// Per dimension, value → count.
    pub breakdowns: [HashMap<String, u64>; 4],
    /// Counts per trend bucket, when the collector was given buckets.
    pub trend: Vec<u64>,
}

impl GroupStats {
    fn merge(&mut self, other: GroupStats) {
        self.count += other.count;
        if let Some(first) = other.first
            && self.first.as_ref().is_none_or(|f| first.0 < f.0)
        {
            self.first = Some(first);
        }
        if let Some(last) = other.last
            && self.last.as_ref().is_none_or(|l| last.0 >= l.0)
        {
            self.last = Some(last);
        }
        self.latest_doc = self
            .last
            .map(|l| l.1)
            .or(self.latest_doc)
            .or(other.latest_doc);
        if self.trend.len() < other.trend.len() {
            self.trend.resize(other.trend.len(), 0);
        }
        for (mine, theirs) in self.trend.iter_mut().zip(other.trend) {
            *mine += theirs;
        }
        for (mine, theirs) in self.breakdowns.iter_mut().zip(other.breakdowns) {
            for (value, count) in theirs {
                *mine.entry(value).or_default() += count;
            }
        }
    }
}

/// Collects [`GroupStats`] per fingerprint, with a trend of `buckets` buckets of
/// `interval_us` from `from_us` when `buckets` is not zero.
#[derive(Debug, Clone, Copy, Default)]
pub struct GroupCollector {
    pub from_us: i64,
    pub interval_us: i64,
    pub buckets: usize,
}

/// Per-segment state: statistics keyed by term ordinals, turned into strings at the end.
pub struct SegmentGroups {
    segment: SegmentOrdinal,
    fingerprint: Option<StrColumn>,
    ts: Column<DateTime>,
    dims: [Option<StrColumn>; 4],
    groups: HashMap<u64, SegmentStats>,
    trend: GroupCollector,
}

#[derive(Default)]
struct SegmentStats {
    count: u64,
    first: Option<(i64, Option<u64>)>,
    last: Option<(i64, DocId)>,
    any_doc: DocId,
    dims: [HashMap<u64, u64>; 4],
    trend: Vec<u64>,
}

impl Collector for GroupCollector {
    type Fruit = HashMap<String, GroupStats>;
    type Child = SegmentGroups;

    fn for_segment(
        &self,
        segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<SegmentGroups> {
        let ff = reader.fast_fields();
        let dims = [
            ff.str(DIMENSIONS[0])?,
            ff.str(DIMENSIONS[1])?,
            ff.str(DIMENSIONS[2])?,
            ff.str(DIMENSIONS[3])?,
        ];
        Ok(SegmentGroups {
            segment,
            fingerprint: ff.str("fingerprint")?,
            ts: ff.date("ts")?,
            dims,
            groups: HashMap::new(),
            trend: *self,
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<Self::Fruit>) -> tantivy::Result<Self::Fruit> {
        let mut all: HashMap<String, GroupStats> = HashMap::new();
        for fruit in fruits {
            for (fingerprint, stats) in fruit {
                all.entry(fingerprint).or_default().merge(stats);
            }
        }
        Ok(all)
    }
}

fn first_ord(column: &Option<StrColumn>, doc: DocId) -> Option<u64> {
    column.as_ref().and_then(|c| c.ords().first(doc))
}

fn ord_str(column: &Option<StrColumn>, ord: u64) -> Option<String> {
    let mut out = String::new();
    column
        .as_ref()?
        .ord_to_str(ord, &mut out)
        .ok()?
        .then_some(out)
}

impl SegmentCollector for SegmentGroups {
    type Fruit = HashMap<String, GroupStats>;

    fn collect(&mut self, doc: DocId, _score: Score) {
        let Some(fp) = first_ord(&self.fingerprint, doc) else {
            return;
        };
        let ts = self.ts.first(doc).map(|t| t.into_timestamp_micros());
        let tag = first_ord(&self.dims[3], doc);
        let stats = self.groups.entry(fp).or_default();
        stats.count += 1;
        if self.trend.buckets > 0
            && let Some(ts) = ts
            && ts >= self.trend.from_us
        {
            let bucket = ((ts - self.trend.from_us) / self.trend.interval_us) as usize;
            if bucket < self.trend.buckets {
                stats.trend.resize(self.trend.buckets, 0);
                stats.trend[bucket] += 1;
            }
        }
        stats.any_doc = doc;
        if let Some(ts) = ts {
            if stats.first.is_none_or(|(t, _)| ts < t) {
                stats.first = Some((ts, tag));
            }
            if stats.last.is_none_or(|(t, _)| ts >= t) {
                stats.last = Some((ts, doc));
            }
        }
        for (i, column) in self.dims.iter().enumerate() {
            if let Some(ord) = first_ord(column, doc) {
                *stats.dims[i].entry(ord).or_default() += 1;
            }
        }
    }

    fn harvest(self) -> Self::Fruit {
        let mut out = HashMap::with_capacity(self.groups.len());
        for (fp_ord, s) in self.groups {
            let Some(fingerprint) = ord_str(&self.fingerprint, fp_ord) else {
                continue;
            };
            let address = |doc| DocAddress::new(self.segment, doc);
            let mut breakdowns: [HashMap<String, u64>; 4] = Default::default();
            for (i, counts) in s.dims.into_iter().enumerate() {
                for (ord, count) in counts {
                    if let Some(value) = ord_str(&self.dims[i], ord) {
                        breakdowns[i].insert(value, count);
                    }
                }
            }
            let stats = GroupStats {
                count: s.count,
                first: s
                    .first
                    .map(|(t, tag)| (t, tag.and_then(|o| ord_str(&self.dims[3], o)))),
                last: s.last.map(|(t, d)| (t, address(d))),
                latest_doc: Some(address(s.last.map_or(s.any_doc, |l| l.1))),
                breakdowns,
                trend: s.trend,
            };
            out.insert(fingerprint, stats);
        }
        out
    }
}
