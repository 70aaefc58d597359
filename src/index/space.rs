//! Where an index's bytes go: per field, its postings, positions, term dictionary, column
//! and norms, and the stored events, as tantivy counts them over the live segments (what
//! Elasticsearch's disk-usage analysis gives). `stackfold check --space` prints it.

use std::collections::BTreeMap;

use tantivy::Index;

use crate::error::Result;

/// The bytes of one field, by part.
#[derive(Debug)]
pub struct FieldSpace {
    pub postings: u64,
    pub positions: u64,
    pub termdict: u64,
    pub column: u64,
    pub norms: u64,
}

impl FieldSpace {
    pub fn total(&self) -> u64 {
        self.postings + self.positions + self.termdict + self.column + self.norms
    }
}

/// The bytes of an index's live segments.
#[derive(Debug)]
pub struct IndexSpace {
    pub total: u64,
    /// The stored events (the docstore).
    pub stored: u64,
    pub fields: BTreeMap<String, FieldSpace>,
}

/// Measures `index` as its last commit left it.
pub fn measure(index: &Index) -> Result<IndexSpace> {
    let searcher = index.reader()?.searcher();
    let usage = searcher
        .space_usage()
        .map_err(tantivy::TantivyError::from)?;
    // Per field: postings, positions, term dictionary, column, norms.
    let mut parts: BTreeMap<String, [u64; 5]> = BTreeMap::new();
    let mut stored = 0;
    for segment in usage.segments() {
        stored += segment.store().total().get_bytes();
        let by_part = [
            segment.postings(),
            segment.positions(),
            segment.termdict(),
            segment.fast_fields(),
            segment.fieldnorms(),
        ];
        for (part, of_part) in by_part.iter().enumerate() {
            for field in of_part.fields() {
                let entry = parts.entry(field.field_name().to_owned()).or_default();
                entry[part] += field.total().get_bytes();
            }
        }
    }
    let fields = parts
        .into_iter()
        .map(|(name, [postings, positions, termdict, column, norms])| {
            let space = FieldSpace {
                postings,
                positions,
                termdict,
                column,
                norms,
            };
            (name, space)
        })
        .filter(|(_, space)| space.total() > 0)
        .collect();
    Ok(IndexSpace {
        total: usage.total().get_bytes(),
        stored,
        fields,
    })
}

impl IndexSpace {
    /// A table: one row per field, largest first, then the stored events and the total.
    pub fn table(&self) -> String {
        let mut rows: Vec<(&String, &FieldSpace)> = self.fields.iter().collect();
        rows.sort_by(|a, b| b.1.total().cmp(&a.1.total()).then(a.0.cmp(b.0)));
        let mut out = format!(
            "{:<18}{:>12}{:>12}{:>12}{:>12}{:>12}{:>12}\n",
            "field", "postings", "positions", "termdict", "column", "norms", "total"
        );
        for (name, f) in rows {
            out += &format!(
                "{:<18}{:>12}{:>12}{:>12}{:>12}{:>12}{:>12}\n",
                name,
                f.postings,
                f.positions,
                f.termdict,
                f.column,
                f.norms,
                f.total()
            );
        }
        out += &format!("{:<18}{:>72}\n", "stored events", self.stored);
        out += &format!("{:<18}{:>72}\n", "index", self.total);
        out
    }
}
