//! Top values of the keyword fields among matching events (Kibana's field sidebar).

use std::collections::{BTreeMap, HashMap};

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::StrColumn;
use tantivy::index::SegmentReader;
use tantivy::{DocId, Score, SegmentOrdinal};

/// The fields counted.
pub const FIELDS: [&str; 6] = ["level", "app", "env", "host", "tag", "logtype"];

/// Counts values of [`FIELDS`] over the matching events.
pub struct FieldsCollector;

pub struct SegmentFields {
    columns: Vec<Option<StrColumn>>,
    counts: Vec<HashMap<u64, u64>>,
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
            .map(|f| ff.str(f))
            .collect::<tantivy::Result<Vec<_>>>()?;
        Ok(SegmentFields {
            counts: vec![HashMap::new(); columns.len()],
            columns,
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
        for (column, counts) in self.columns.iter().zip(&mut self.counts) {
            if let Some(ord) = column.as_ref().and_then(|c| c.ords().first(doc)) {
                *counts.entry(ord).or_default() += 1;
            }
        }
    }

    fn harvest(self) -> Self::Fruit {
        let mut out = BTreeMap::new();
        for ((name, column), counts) in FIELDS.iter().zip(&self.columns).zip(self.counts) {
            let mut values = HashMap::new();
            if let Some(column) = column {
                for (ord, count) in counts {
                    let mut value = String::new();
                    if column.ord_to_str(ord, &mut value).unwrap_or(false) {
                        values.insert(value, count);
                    }
                }
            }
            out.insert((*name).to_owned(), values);
        }
        out
    }
}
