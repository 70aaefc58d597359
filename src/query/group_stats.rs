//! Exception groups with exact counts, gathered from fast fields in two passes over the
//! matching documents.
//!
//! The first pass ([`GroupCollector`]) counts every group: count, first and last seen and the
//! latest event. It keeps per document only a few numbers in a table indexed by the segment's
//! fingerprint ordinal, and names each group once per segment, so its cost grows with the
//! matching events and by one row per group. The second pass ([`PageCollector`]) counts the
//! trend and the apps, envs, hosts and tags of the groups shown only (a page of 100 among
//! 30 k groups), over those groups' events.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::{Column, StrColumn};
use tantivy::index::SegmentReader;
use tantivy::{DateTime, DocAddress, DocId, Score, SegmentOrdinal};

use crate::index::files::{self, ValueColumn};

/// The breakdown dimensions of exception groups, in the order of their [`Breakdowns`].
pub const DIMENSIONS: [&str; 4] = ["app", "env", "host", "tag"];

/// The breakdown dimensions of patterns: their levels too, since a pattern spans them.
pub const PATTERN_DIMENSIONS: [&str; 5] = ["level", "app", "env", "host", "tag"];

/// Per dimension, value → count.
pub type Breakdowns = Vec<HashMap<String, u64>>;

/// A group's key as the number its hex digits write (see [`key_of`]).
pub type Key = u128;

/// The keyword fast field a listing groups by, how many hex digits its values have, and the
/// dimensions its rows are broken down by (the order of their [`Breakdowns`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyField {
    pub name: &'static str,
    pub hex_digits: usize,
    pub dims: &'static [&'static str],
}

/// Exception groups: by fingerprint, 32 hex digits.
pub const FINGERPRINT: KeyField = KeyField {
    name: "fingerprint",
    hex_digits: 32,
    dims: &DIMENSIONS,
};

/// Patterns: by pattern id, 16 hex digits.
pub const PATTERN: KeyField = KeyField {
    name: "pattern",
    hex_digits: 16,
    dims: &PATTERN_DIMENSIONS,
};

impl Default for KeyField {
    fn default() -> Self {
        FINGERPRINT
    }
}

/// Hashes a [`Key`], already a hash, by folding it: no SipHash rounds per lookup.
#[derive(Default)]
pub struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = self.0.rotate_left(5) ^ u64::from_le_bytes(word);
        }
    }

    fn write_u128(&mut self, key: u128) {
        self.0 ^= (key as u64) ^ ((key >> 64) as u64);
    }
}

/// A map keyed by fingerprint.
pub type KeyMap<V> = HashMap<Key, V, BuildHasherDefault<KeyHasher>>;

/// The key of a value of `field`: the number its hex digits write, or, for a value that is
/// not as many lowercase hex digits as the field's (none written by this build), a hash of
/// it, named in [`GroupCounts::name`] through the names kept aside.
fn key_of(field: KeyField, value: &[u8]) -> (Key, bool) {
    let lower_hex = |b: &u8| b.is_ascii_digit() || (b'a'..=b'f').contains(b);
    let parsed = (value.len() == field.hex_digits && value.iter().all(lower_hex))
        .then(|| std::str::from_utf8(value).ok())
        .flatten()
        .and_then(|hex| u128::from_str_radix(hex, 16).ok());
    match parsed {
        Some(key) => (key, true),
        None => (xxhash_rust::xxh3::xxh3_128(value), false),
    }
}

/// What one group's matching events add up to.
#[derive(Debug, Clone, Default)]
pub struct GroupStats {
    pub count: u64,
    /// Earliest time (microseconds) and that event's address.
    pub first: Option<(i64, DocAddress)>,
    /// Latest time (microseconds) and that event's address.
    pub last: Option<(i64, DocAddress)>,
    /// The latest event whatever its time (events without time count as oldest).
    pub latest_doc: Option<DocAddress>,
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
    }
}

/// Every group of the matching events, by key.
#[derive(Default)]
pub struct GroupCounts {
    field: KeyField,
    pub groups: KeyMap<GroupStats>,
    /// The fingerprints that are not their key written in hex.
    names: KeyMap<String>,
    /// Each segment's tag column, to name [`GroupStats::first`]'s tag.
    tags: HashMap<SegmentOrdinal, ValueColumn>,
}

impl GroupCounts {
    /// The fingerprint or pattern id of `key`.
    pub fn name(&self, key: Key) -> String {
        self.names
            .get(&key)
            .cloned()
            .unwrap_or_else(|| format!("{key:0width$x}", width = self.field.hex_digits))
    }

    /// The image tag of the group's earliest event.
    pub fn first_tag(&self, stats: &GroupStats) -> Option<String> {
        let first = stats.first?.1;
        let column = self.tags.get(&first.segment_ord)?;
        column.ord_value(column.first_ord(first.doc_id)?)
    }
}

/// Collects [`GroupStats`] per value of a key field.
pub struct GroupCollector(pub KeyField);

/// Per-segment state: a row per group, found through the fingerprint's term ordinal.
pub struct SegmentGroups {
    segment: SegmentOrdinal,
    field: KeyField,
    key: Option<StrColumn>,
    ts: Column<DateTime>,
    tag: Option<ValueColumn>,
    /// Row of each key ordinal, [`NO_ROW`] until the group's first event.
    rows: Vec<u32>,
    stats: Vec<SegmentStats>,
}

const NO_ROW: u32 = u32::MAX;

struct SegmentStats {
    key_ord: u64,
    count: u64,
    first: Option<(i64, DocId)>,
    last: Option<(i64, DocId)>,
    any_doc: DocId,
}

/// One segment's groups, named.
#[derive(Clone)]
pub struct SegmentFruit {
    segment: SegmentOrdinal,
    tag: Option<ValueColumn>,
    groups: Vec<(Key, Option<String>, GroupStats)>,
}

impl Collector for GroupCollector {
    type Fruit = GroupCounts;
    type Child = SegmentGroups;

    fn for_segment(
        &self,
        segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<SegmentGroups> {
        let ff = reader.fast_fields();
        let key = ff.str(self.0.name)?;
        let terms = key.as_ref().map_or(0, |c| c.dictionary().num_terms());
        Ok(SegmentGroups {
            segment,
            field: self.0,
            key,
            ts: ff.date("ts")?,
            tag: ValueColumn::open(ff, "tag")?,
            rows: vec![NO_ROW; terms],
            stats: Vec::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<SegmentFruit>) -> tantivy::Result<GroupCounts> {
        let mut all = GroupCounts {
            field: self.0,
            ..GroupCounts::default()
        };
        for fruit in fruits {
            for (key, name, stats) in fruit.groups {
                all.groups.entry(key).or_default().merge(stats);
                if let Some(name) = name {
                    all.names.insert(key, name);
                }
            }
            if let Some(tag) = fruit.tag {
                all.tags.insert(fruit.segment, tag);
            }
        }
        Ok(all)
    }
}

fn first_ord(column: &Option<StrColumn>, doc: DocId) -> Option<u64> {
    column.as_ref().and_then(|c| c.ords().first(doc))
}

impl SegmentCollector for SegmentGroups {
    type Fruit = SegmentFruit;

    fn collect(&mut self, doc: DocId, _score: Score) {
        let Some(key_ord) = first_ord(&self.key, doc) else {
            return;
        };
        let Some(slot) = self.rows.get_mut(key_ord as usize) else {
            return;
        };
        if *slot == NO_ROW {
            *slot = self.stats.len() as u32;
            self.stats.push(SegmentStats {
                key_ord,
                count: 0,
                first: None,
                last: None,
                any_doc: doc,
            });
        }
        let row = *slot as usize;
        let ts = self.ts.first(doc).map(|t| t.into_timestamp_micros());
        let stats = &mut self.stats[row];
        stats.count += 1;
        stats.any_doc = doc;
        let Some(ts) = ts else {
            return;
        };
        if stats.first.is_none_or(|(t, _)| ts < t) {
            stats.first = Some((ts, doc));
        }
        if stats.last.is_none_or(|(t, _)| ts >= t) {
            stats.last = Some((ts, doc));
        }
    }

    fn harvest(self) -> SegmentFruit {
        let mut by_ord: Vec<usize> = (0..self.stats.len()).collect();
        by_ord.sort_unstable_by_key(|&row| self.stats[row].key_ord);
        let ords: Vec<u64> = by_ord.iter().map(|&row| self.stats[row].key_ord).collect();
        let mut keys = Vec::with_capacity(ords.len());
        if let Some(column) = &self.key {
            files::name_ords(column, &ords, |_, bytes| {
                let (key, plain) = key_of(self.field, bytes);
                let odd = (!plain).then(|| String::from_utf8_lossy(bytes).into_owned());
                keys.push((key, odd));
            });
        }
        let segment = self.segment;
        let groups = by_ord
            .into_iter()
            .zip(keys)
            .map(|(row, (key, odd))| {
                let s = &self.stats[row];
                let address = |doc| DocAddress::new(segment, doc);
                let stats = GroupStats {
                    count: s.count,
                    first: s.first.map(|(t, d)| (t, address(d))),
                    last: s.last.map(|(t, d)| (t, address(d))),
                    latest_doc: Some(address(s.last.map_or(s.any_doc, |l| l.1))),
                };
                (key, odd, stats)
            })
            .collect();
        SegmentFruit {
            segment,
            tag: self.tag,
            groups,
        }
    }
}

/// What the second pass counts for a group shown.
#[derive(Debug, Clone, Default)]
pub struct PageStats {
    pub breakdowns: Breakdowns,
    /// Events per trend bucket; empty when no trend was asked for.
    pub trend: Vec<u64>,
}

/// Counts the trend (`buckets` buckets of `interval_us` from `from_us`, none when `buckets`
/// is 0) and the values of the field's dimensions of each group among the matching events;
/// meant for a query already narrowed to the groups shown.
#[derive(Debug, Clone, Copy)]
pub struct PageCollector {
    pub field: KeyField,
    pub from_us: i64,
    pub interval_us: i64,
    pub buckets: usize,
}

impl PageCollector {
    /// No trend: breakdowns only.
    pub fn untrended(field: KeyField) -> Self {
        PageCollector {
            field,
            from_us: 0,
            interval_us: 1,
            buckets: 0,
        }
    }
}

/// Per-segment state: (key ordinal, dimension, value ordinal) → count, and key ordinal →
/// trend.
pub struct SegmentPage {
    key: Option<StrColumn>,
    ts: Column<DateTime>,
    dims: Vec<Option<ValueColumn>>,
    counts: HashMap<(u64, usize, u64), u64>,
    trends: HashMap<u64, Vec<u64>>,
    range: PageCollector,
}

impl Collector for PageCollector {
    type Fruit = KeyMap<PageStats>;
    type Child = SegmentPage;

    fn for_segment(
        &self,
        _segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<SegmentPage> {
        let ff = reader.fast_fields();
        Ok(SegmentPage {
            key: ff.str(self.field.name)?,
            ts: ff.date("ts")?,
            dims: self
                .field
                .dims
                .iter()
                .map(|dim| ValueColumn::open(ff, dim))
                .collect::<tantivy::Result<_>>()?,
            counts: HashMap::new(),
            trends: HashMap::new(),
            range: *self,
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<KeyMap<PageStats>>) -> tantivy::Result<Self::Fruit> {
        let mut all = KeyMap::<PageStats>::default();
        for fruit in fruits {
            for (key, page) in fruit {
                let mine = all.entry(key).or_default();
                mine.breakdowns
                    .resize_with(self.field.dims.len(), HashMap::new);
                for (mine, theirs) in mine.breakdowns.iter_mut().zip(page.breakdowns) {
                    for (value, count) in theirs {
                        *mine.entry(value).or_default() += count;
                    }
                }
                mine.trend.resize(self.buckets, 0);
                for (mine, theirs) in mine.trend.iter_mut().zip(page.trend) {
                    *mine += theirs;
                }
            }
        }
        Ok(all)
    }
}

impl SegmentCollector for SegmentPage {
    type Fruit = KeyMap<PageStats>;

    fn collect(&mut self, doc: DocId, _score: Score) {
        let Some(fp) = first_ord(&self.key, doc) else {
            return;
        };
        for (dim, column) in self.dims.iter().enumerate() {
            if let Some(ord) = column.as_ref().and_then(|c| c.first_ord(doc)) {
                *self.counts.entry((fp, dim, ord)).or_default() += 1;
            }
        }
        let range = self.range;
        let trend = self
            .trends
            .entry(fp)
            .or_insert_with(|| vec![0; range.buckets]);
        if let Some(ts) = self.ts.first(doc).map(|t| t.into_timestamp_micros())
            && range.buckets > 0
            && ts >= range.from_us
            && let Some(bucket) = trend.get_mut(((ts - range.from_us) / range.interval_us) as usize)
        {
            *bucket += 1;
        }
    }

    fn harvest(self) -> KeyMap<PageStats> {
        fn sorted(mut ords: Vec<u64>) -> Vec<u64> {
            ords.sort_unstable();
            ords.dedup();
            ords
        }
        let mut keys = HashMap::new();
        if let Some(column) = &self.key {
            let ords = sorted(self.trends.keys().copied().collect());
            files::name_ords(column, &ords, |ord, bytes| {
                keys.insert(ord, bytes.to_vec());
            });
        }
        let field = self.range.field;
        let values: Vec<HashMap<u64, Vec<u8>>> = (0..self.dims.len())
            .map(|dim| {
                let mut named = HashMap::new();
                if let Some(column) = &self.dims[dim] {
                    let ords = self.counts.keys().filter(|k| k.1 == dim).map(|k| k.2);
                    column.name_ords(&sorted(ords.collect()), |ord, bytes| {
                        named.insert(ord, bytes.to_vec());
                    });
                }
                named
            })
            .collect();
        let key = |fp: &u64| keys.get(fp).map(|name| key_of(field, name).0);
        let dims = self.dims.len();
        let mut out = KeyMap::<PageStats>::default();
        fn entry(out: &mut KeyMap<PageStats>, key: Key, dims: usize) -> &mut PageStats {
            let page = out.entry(key).or_default();
            page.breakdowns.resize_with(dims, HashMap::new);
            page
        }
        for (fp, trend) in &self.trends {
            if let Some(key) = key(fp) {
                entry(&mut out, key, dims).trend = trend.clone();
            }
        }
        for ((fp, dim, ord), count) in self.counts {
            let (Some(key), Some(value)) = (key(&fp), values[dim].get(&ord)) else {
                continue;
            };
            let value = String::from_utf8_lossy(value).into_owned();
            *entry(&mut out, key, dims).breakdowns[dim]
                .entry(value)
                .or_default() += count;
        }
        out
    }
}

impl super::cache::Cacheable for SegmentFruit {
    fn bytes(&self) -> u64 {
        let names: usize = self
            .groups
            .iter()
            .filter_map(|g| g.1.as_ref())
            .map(String::len)
            .sum();
        (self.groups.len() * std::mem::size_of::<(Key, Option<String>, GroupStats)>() + names)
            as u64
    }

    fn at_segment(mut self, ordinal: SegmentOrdinal) -> Self {
        let at = |address: DocAddress| DocAddress::new(ordinal, address.doc_id);
        self.segment = ordinal;
        for (_, _, stats) in &mut self.groups {
            if let Some((_, address)) = &mut stats.first {
                *address = at(*address);
            }
            if let Some((_, address)) = &mut stats.last {
                *address = at(*address);
            }
            stats.latest_doc = stats.latest_doc.map(at);
        }
        self
    }
}

impl super::cache::Cacheable for KeyMap<PageStats> {
    fn bytes(&self) -> u64 {
        self.values()
            .map(|page| {
                let values: usize = page
                    .breakdowns
                    .iter()
                    .flatten()
                    .map(|(v, _)| 40 + v.len())
                    .sum();
                64 + 8 * page.trend.len() + values
            })
            .sum::<usize>() as u64
    }
}
