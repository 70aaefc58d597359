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

/// The breakdown dimensions, in the order of [`Breakdowns`].
pub const DIMENSIONS: [&str; 4] = ["app", "env", "host", "tag"];

/// Where the tag column sits in [`DIMENSIONS`].
const TAG: usize = 3;

/// Per dimension, value → count.
pub type Breakdowns = [HashMap<String, u64>; 4];

/// A fingerprint as the number its 32 hex digits write (see [`Key::of`]).
pub type Key = u128;

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

/// The key of a fingerprint: the number its hex digits write, or, for a fingerprint that is
/// not 32 hex digits (none written by this build), a hash of it, named in
/// [`GroupCounts::name`] through the names kept aside.
fn key_of(fingerprint: &[u8]) -> (Key, bool) {
    let lower_hex = |b: &u8| b.is_ascii_digit() || (b'a'..=b'f').contains(b);
    let parsed = (fingerprint.len() == 32 && fingerprint.iter().all(lower_hex))
        .then(|| std::str::from_utf8(fingerprint).ok())
        .flatten()
        .and_then(|hex| u128::from_str_radix(hex, 16).ok());
    match parsed {
        Some(key) => (key, true),
        None => (xxhash_rust::xxh3::xxh3_128(fingerprint), false),
    }
}

/// What one group's matching events add up to.
#[derive(Debug, Clone, Default)]
pub struct GroupStats {
    pub count: u64,
    /// Earliest time (microseconds) and where that event's tag is (see
    /// [`GroupCounts::first_tag`]).
    pub first: Option<(i64, Option<(SegmentOrdinal, u64)>)>,
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
    pub groups: KeyMap<GroupStats>,
    /// The fingerprints that are not their key written in hex.
    names: KeyMap<String>,
    /// Each segment's tag column, to name [`GroupStats::first`]'s tag.
    tags: HashMap<SegmentOrdinal, StrColumn>,
}

impl GroupCounts {
    /// The fingerprint of `key`.
    pub fn name(&self, key: Key) -> String {
        self.names
            .get(&key)
            .cloned()
            .unwrap_or_else(|| format!("{key:032x}"))
    }

    /// The image tag of the group's earliest event.
    pub fn first_tag(&self, stats: &GroupStats) -> Option<String> {
        let (segment, ord) = stats.first?.1?;
        let mut tag = String::new();
        self.tags
            .get(&segment)?
            .ord_to_str(ord, &mut tag)
            .ok()?
            .then_some(tag)
    }
}

/// Collects [`GroupStats`] per fingerprint.
pub struct GroupCollector;

/// Per-segment state: a row per group, found through the fingerprint's term ordinal.
pub struct SegmentGroups {
    segment: SegmentOrdinal,
    fingerprint: Option<StrColumn>,
    ts: Column<DateTime>,
    tag: Option<StrColumn>,
    /// Row of each fingerprint ordinal, [`NO_ROW`] until the group's first event.
    rows: Vec<u32>,
    stats: Vec<SegmentStats>,
}

const NO_ROW: u32 = u32::MAX;

struct SegmentStats {
    fingerprint: u64,
    count: u64,
    first: Option<(i64, Option<u64>)>,
    last: Option<(i64, DocId)>,
    any_doc: DocId,
}

/// One segment's groups, named.
#[derive(Clone)]
pub struct SegmentFruit {
    segment: SegmentOrdinal,
    tag: Option<StrColumn>,
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
        let fingerprint = ff.str("fingerprint")?;
        let terms = fingerprint
            .as_ref()
            .map_or(0, |c| c.dictionary().num_terms());
        Ok(SegmentGroups {
            segment,
            fingerprint,
            ts: ff.date("ts")?,
            tag: ff.str(DIMENSIONS[TAG])?,
            rows: vec![NO_ROW; terms],
            stats: Vec::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<SegmentFruit>) -> tantivy::Result<GroupCounts> {
        let mut all = GroupCounts::default();
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
        let Some(fp) = first_ord(&self.fingerprint, doc) else {
            return;
        };
        let Some(slot) = self.rows.get_mut(fp as usize) else {
            return;
        };
        if *slot == NO_ROW {
            *slot = self.stats.len() as u32;
            self.stats.push(SegmentStats {
                fingerprint: fp,
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
            stats.first = Some((ts, first_ord(&self.tag, doc)));
        }
        if stats.last.is_none_or(|(t, _)| ts >= t) {
            stats.last = Some((ts, doc));
        }
    }

    fn harvest(self) -> SegmentFruit {
        let mut by_ord: Vec<usize> = (0..self.stats.len()).collect();
        by_ord.sort_unstable_by_key(|&row| self.stats[row].fingerprint);
        let ords: Vec<u64> = by_ord
            .iter()
            .map(|&row| self.stats[row].fingerprint)
            .collect();
        let mut keys = Vec::with_capacity(ords.len());
        if let Some(column) = &self.fingerprint {
            super::name_ords(column, &ords, |_, bytes| {
                let (key, plain) = key_of(bytes);
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
                    first: s.first.map(|(t, tag)| (t, tag.map(|o| (segment, o)))),
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
/// is 0) and the breakdown values of each group among the matching events; meant for a
/// query already narrowed to the groups shown.
#[derive(Debug, Clone, Copy, Default)]
pub struct PageCollector {
    pub from_us: i64,
    pub interval_us: i64,
    pub buckets: usize,
}

/// Per-segment state: (fingerprint ordinal, dimension, value ordinal) → count, and
/// fingerprint ordinal → trend.
pub struct SegmentPage {
    fingerprint: Option<StrColumn>,
    ts: Column<DateTime>,
    dims: [Option<StrColumn>; 4],
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
            fingerprint: ff.str("fingerprint")?,
            ts: ff.date("ts")?,
            dims: [
                ff.str(DIMENSIONS[0])?,
                ff.str(DIMENSIONS[1])?,
                ff.str(DIMENSIONS[2])?,
                ff.str(DIMENSIONS[3])?,
            ],
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
        let Some(fp) = first_ord(&self.fingerprint, doc) else {
            return;
        };
        for (dim, column) in self.dims.iter().enumerate() {
            if let Some(ord) = first_ord(column, doc) {
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
        let names = |column: &Option<StrColumn>, ords: Vec<u64>| {
            let mut named = HashMap::new();
            if let Some(column) = column {
                let mut ords = ords;
                ords.sort_unstable();
                ords.dedup();
                super::name_ords(column, &ords, |ord, bytes| {
                    named.insert(ord, bytes.to_vec());
                });
            }
            named
        };
        let fingerprints = names(&self.fingerprint, self.trends.keys().copied().collect());
        let values: Vec<HashMap<u64, Vec<u8>>> = (0..DIMENSIONS.len())
            .map(|dim| {
                let ords = self.counts.keys().filter(|k| k.1 == dim).map(|k| k.2);
                names(&self.dims[dim], ords.collect())
            })
            .collect();
        let key = |fp: &u64| fingerprints.get(fp).map(|name| key_of(name).0);
        let mut out = KeyMap::<PageStats>::default();
        for (fp, trend) in &self.trends {
            if let Some(key) = key(fp) {
                out.entry(key).or_default().trend = trend.clone();
            }
        }
        for ((fp, dim, ord), count) in self.counts {
            let (Some(key), Some(value)) = (key(&fp), values[dim].get(&ord)) else {
                continue;
            };
            let value = String::from_utf8_lossy(value).into_owned();
            *out.entry(key).or_default().breakdowns[dim]
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
            if let Some((_, tag)) = &mut stats.first {
                *tag = tag.map(|(_, ord)| (ordinal, ord));
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
