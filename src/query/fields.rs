//! Top values of the keyword fields among matching events (Kibana's field sidebar).

use std::collections::{BTreeMap, HashMap};

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::index::SegmentReader;
use tantivy::{DocId, Score, SegmentOrdinal};

use crate::index::files::ValueColumn;

/// The fields counted.
pub const FIELDS: [&str; 6] = ["level", "app", "env", "host", "tag", "logtype"];

/// Counts values of [`FIELDS`] over the matching events.
pub struct FieldsCollector;

pub struct SegmentFields {
    columns: Vec<Option<ValueColumn>>,
    /// Per field, events per value ordinal (a field has a few hundred values at most; one
    /// taken from the file's values has one ordinal per file, see [`ValueColumn`]).
    counts: Vec<Vec<u64>>,
    ords: Vec<Option<u64>>,
}

impl Collector for FieldsCollector {
    type Fruit = BTreeMap<String, HashMap<String, u64>>;
    type Child = SegmentFields;

    fn for_segment(
        &self,
        _: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<SegmentFields> {
        let ff = reader.fast_fields();
        let columns = FIELDS
            .iter()
            .map(|f| ValueColumn::open(ff, f))
            .collect::<tantivy::Result<Vec<_>>>()?;
        let counts = columns
            .iter()
            .map(|c| vec![0; c.as_ref().map_or(0, |c| c.num_ords())])
            .collect();
        Ok(SegmentFields {
            counts,
            columns,
            ords: Vec::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<Self::Fruit>) -> tantivy::Result<Self::Fruit> {
        let mut all: Self::Fruit = BTreeMap::new();
        for fruit in fruits {
            for (field, values) in fruit {
                let slot = all.entry(field).or_default();
                for (value, count) in values {
                    *slot.entry(value).or_default() += count;
                }
            }
        }
        Ok(all)
    }
}

impl SegmentCollector for SegmentFields {
    type Fruit = BTreeMap<String, HashMap<String, u64>>;

    fn collect(&mut self, doc: DocId, _: Score) {
        self.collect_block(&[doc]);
    }

    fn collect_block(&mut self, docs: &[DocId]) {
        self.ords.resize(docs.len(), None);
        for (column, counts) in self.columns.iter().zip(&mut self.counts) {
            let Some(column) = column else {
                continue;
            };
            self.ords.fill(None);
            column.first_ords(docs, &mut self.ords);
            for ord in self.ords.iter().flatten() {
                if let Some(count) = counts.get_mut(*ord as usize) {
                    *count += 1;
                }
            }
        }
    }

    fn harvest(self) -> Self::Fruit {
        let mut out = BTreeMap::new();
        for ((name, column), counts) in FIELDS.iter().zip(&self.columns).zip(self.counts) {
            let mut values = HashMap::new();
            if let Some(column) = column {
                let ords: Vec<u64> = (0..counts.len() as u64)
                    .filter(|&ord| counts[ord as usize] > 0)
                    .collect();
                column.name_ords(&ords, |ord, value| {
                    let value = String::from_utf8_lossy(value).into_owned();
                    *values.entry(value).or_default() += counts[ord as usize];
                });
            }
            out.insert((*name).to_owned(), values);
        }
        out
    }
}
