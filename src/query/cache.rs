//! Aggregations remembered per segment. A segment never changes once written (its deletes
//! only grow, and are counted in the key), so what a collector gathered from it for a query
//! is the same the next time that query meets it: histograms, field values, time spans and
//! group counts are computed once per segment and query, and a commit costs only its new
//! segments. Entries are weighed by their size and the least useful are dropped past
//! [`CAPACITY_BYTES`].
//!
//! A time range is keyed by what it does to a segment ([`Within`]): relative ranges such as
//! "the last hour" name another range at each request, yet leave every segment but the one
//! or two their ends cut through wholly inside (the range changes nothing) or wholly outside
//! (nothing matches).

use std::any::Any;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use tantivy::SegmentOrdinal;
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::Cardinality;
use tantivy::index::{SegmentId, SegmentReader};
use tantivy::query::Weight;

/// Memory the cached aggregates may take (estimated from their contents).
pub const CAPACITY_BYTES: u64 = 64 << 20;

/// A segment, its deletes, and what was asked of it.
type Key = (SegmentId, u32, Arc<str>);

#[derive(Clone)]
struct Entry {
    fruit: Arc<dyn Any + Send + Sync>,
    bytes: u64,
}

#[derive(Clone)]
struct ByBytes;

impl quick_cache::Weighter<Key, Entry> for ByBytes {
    fn weight(&self, key: &Key, entry: &Entry) -> u64 {
        key.2.len() as u64 + entry.bytes + 64
    }
}

/// The segments' aggregates, shared by every query of a [`super::Reader`].
pub struct SegmentCache(quick_cache::sync::Cache<Key, Entry, ByBytes>);

impl Default for SegmentCache {
    fn default() -> Self {
        SegmentCache(quick_cache::sync::Cache::with_weighter(
            4096,
            CAPACITY_BYTES,
            ByBytes,
        ))
    }
}

impl SegmentCache {
    /// How many aggregates are kept (for tests).
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.0.len()
    }
}

/// What a segment collector's answer must be to be kept: cheap to copy, of a known size,
/// and movable to the segment's ordinal in another searcher.
pub trait Cacheable: Clone + Send + Sync + 'static {
    /// Bytes it takes, roughly.
    fn bytes(&self) -> u64;

    /// The same answer for the segment at `ordinal` of the searcher at hand (a segment's
    /// ordinal is its place among the searcher's segments, which commits and merges move).
    fn at_segment(self, _ordinal: SegmentOrdinal) -> Self {
        self
    }
}

impl Cacheable for Vec<u64> {
    fn bytes(&self) -> u64 {
        8 * self.len() as u64
    }
}

impl Cacheable for usize {
    fn bytes(&self) -> u64 {
        8
    }
}

impl Cacheable for Option<(i64, i64)> {
    fn bytes(&self) -> u64 {
        16
    }
}

impl Cacheable for BTreeMap<String, HashMap<String, u64>> {
    fn bytes(&self) -> u64 {
        self.iter()
            .map(|(k, v)| 48 + k.len() + v.keys().map(|value| 40 + value.len()).sum::<usize>())
            .sum::<usize>() as u64
    }
}

/// `inner`, with each segment's answer taken from `cache` when it was computed for the same
/// `query` (a description of everything the answer depends on) before.
pub struct Cached<'a, C> {
    pub inner: C,
    pub cache: &'a SegmentCache,
    pub query: Arc<str>,
    /// The query's time range, if it has one.
    pub within: Option<Within>,
}

/// A time range in microseconds, `from` included and `to` excluded, and the descriptions
/// of the aggregation without it: a segment whose every event has a time inside the range
/// answers as it does without the range, and one with no time inside it answers as nothing
/// matched.
pub struct Within {
    pub from_us: i64,
    pub to_us: i64,
    pub unranged: Arc<str>,
    pub outside: Arc<str>,
}

impl Within {
    /// The description `reader`'s answer is kept under, if the range does not cut through
    /// the segment.
    fn key(&self, reader: &SegmentReader, cache: &SegmentCache) -> Option<&Arc<str>> {
        let Some(TimeBounds { lo, hi, every_doc }) = cache.time_bounds(reader) else {
            return Some(&self.outside);
        };
        if hi < self.from_us || lo >= self.to_us {
            Some(&self.outside)
        } else if every_doc && self.from_us <= lo && hi < self.to_us {
            Some(&self.unranged)
        } else {
            None
        }
    }
}

/// The first and last time in a segment (microseconds), and whether every document has one.
#[derive(Debug, Clone, Copy)]
pub(super) struct TimeBounds {
    pub lo: i64,
    pub hi: i64,
    pub every_doc: bool,
}

impl Cacheable for Option<TimeBounds> {
    fn bytes(&self) -> u64 {
        24
    }
}

impl SegmentCache {
    /// The answer kept under `key`, else `compute`'s, kept.
    fn remembered<T: Cacheable>(
        &self,
        key: Key,
        compute: impl FnOnce() -> tantivy::Result<T>,
    ) -> tantivy::Result<T> {
        if let Some(entry) = self.0.get(&key)
            && let Some(kept) = entry.fruit.downcast_ref::<T>()
        {
            return Ok(kept.clone());
        }
        let fresh = compute()?;
        let entry = Entry {
            bytes: fresh.bytes(),
            fruit: Arc::new(fresh.clone()),
        };
        self.0.insert(key, entry);
        Ok(fresh)
    }

    /// `reader`'s time bounds, `None` when no document has a time: kept like an aggregate
    /// (opening the time column costs more than the rest of a cached answer).
    pub(super) fn time_bounds(&self, reader: &SegmentReader) -> Option<TimeBounds> {
        let key: Key = (reader.segment_id(), u32::MAX, Arc::from("time bounds"));
        let bounds = self.remembered(key, || {
            let column = reader.fast_fields().date("ts")?;
            Ok((column.values.num_vals() > 0).then(|| TimeBounds {
                lo: column.min_value().into_timestamp_micros(),
                hi: column.max_value().into_timestamp_micros(),
                every_doc: column.get_cardinality() == Cardinality::Full,
            }))
        });
        bounds.ok().flatten()
    }
}

impl<C> Collector for Cached<'_, C>
where
    C: Collector,
    <C::Child as SegmentCollector>::Fruit: Cacheable,
{
    type Fruit = C::Fruit;
    type Child = C::Child;

    fn for_segment(
        &self,
        segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<C::Child> {
        self.inner.for_segment(segment, reader)
    }

    fn requires_scoring(&self) -> bool {
        self.inner.requires_scoring()
    }

    fn merge_fruits(
        &self,
        fruits: Vec<<C::Child as SegmentCollector>::Fruit>,
    ) -> tantivy::Result<C::Fruit> {
        self.inner.merge_fruits(fruits)
    }

    fn collect_segment(
        &self,
        weight: &dyn Weight,
        segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<<C::Child as SegmentCollector>::Fruit> {
        let query = self.within.as_ref().and_then(|w| w.key(reader, self.cache));
        let key: Key = (
            reader.segment_id(),
            reader.num_deleted_docs(),
            Arc::clone(query.unwrap_or(&self.query)),
        );
        let fruit = self
            .cache
            .remembered(key, || self.inner.collect_segment(weight, segment, reader))?;
        Ok(fruit.at_segment(segment))
    }
}
