//! The values an event takes from its file, indexed together as one value: `file`.
//!
//! Every event of a file has the same app, env, image tag, host, log type, date and source.
//! As seven fields they cost seven values per event to index, a tenth of ingest (issue 17);
//! held together in one keyword and fast field they cost one, and that field's dictionary is
//! the table of the segment's files: a few hundred terms, however many events.
//!
//! Queries and listings still speak of `app`, `host` and the rest:
//! - a query on one of them is the set of `file` terms whose part matches ([`terms_where`]);
//! - a breakdown counts events per `file` term and names each term by its part
//!   ([`ValueColumn`]), so values shared by several files add up;
//! - an event is shown with its term's parts ([`decode`]).
//!
//! Events received from shippers carry these values per event; they are held the same way,
//! one term per combination seen.

use tantivy::columnar::StrColumn;
use tantivy::fastfield::FastFieldReaders;
use tantivy::schema::Field;
use tantivy::{DocId, Searcher, Term};

use crate::event::FileInfo;

/// The parts of a `file` value, in order.
pub const PARTS: [&str; 7] = ["app", "env", "tag", "host", "logtype", "date", "source"];

/// The name of the field that holds them.
pub const FILE_FIELD: &str = "file";

/// One value per part, `None` where the event has none.
pub type Parts<'a> = [Option<&'a str>; PARTS.len()];

/// Which part `name` is, if it is one.
pub fn part(name: &str) -> Option<usize> {
    PARTS.iter().position(|p| *p == name)
}

/// Writes `parts` as one term: for each part, `-` when it is absent, else its length in
/// bytes, `:` and the value. Lengths rather than a separator: a value may hold any character.
pub fn encode(parts: &Parts, out: &mut String) {
    use std::fmt::Write;
    out.clear();
    for part in parts {
        match part {
            None => out.push('-'),
            Some(value) => {
                let _ = write!(out, "{}:{value}", value.len());
            }
        }
    }
}

/// The parts of a term [`encode`] wrote; `None` for any other text.
pub fn decode(term: &str) -> Option<Parts<'_>> {
    let mut parts: Parts = [None; PARTS.len()];
    let mut rest = term;
    for part in &mut parts {
        if let Some(after) = rest.strip_prefix('-') {
            rest = after;
            continue;
        }
        let (len, after) = rest.split_once(':')?;
        let len: usize = len.parse().ok()?;
        let value = after.get(..len)?;
        *part = Some(value);
        rest = &after[len..];
    }
    rest.is_empty().then_some(parts)
}

/// The `file` term of a file's events, made once for the run of events of one file rather than
/// once per event (formatting it was 5 % of the adding thread's time).
#[derive(Debug, Default)]
pub struct FileTerms {
    last: Option<(std::sync::Arc<FileInfo>, std::sync::Arc<str>)>,
}

impl FileTerms {
    /// The term of the events of `file`.
    pub fn term(&mut self, file: &std::sync::Arc<FileInfo>) -> std::sync::Arc<str> {
        if let Some((last, term)) = &self.last
            && std::sync::Arc::ptr_eq(last, file)
        {
            return std::sync::Arc::clone(term);
        }
        let source = file.path.to_string_lossy();
        let meta = &file.meta;
        let parts: Parts = [
            meta.app.as_deref(),
            meta.env.as_deref(),
            meta.tag.as_deref(),
            meta.host.as_deref(),
            meta.logtype.as_deref(),
            meta.date.as_deref(),
            Some(&source),
        ];
        let mut term = String::new();
        encode(&parts, &mut term);
        let term: std::sync::Arc<str> = term.into();
        self.last = Some((std::sync::Arc::clone(file), std::sync::Arc::clone(&term)));
        term
    }
}

/// The `file` terms of every segment `searcher` sees whose part `part` satisfies `matches`
/// (given `None` when the term has no value for it), each once.
pub fn terms_where(
    searcher: &Searcher,
    field: Field,
    part: usize,
    matches: impl Fn(Option<&str>) -> bool,
) -> tantivy::Result<Vec<Term>> {
    let mut found = std::collections::BTreeSet::new();
    for segment in searcher.segment_readers() {
        let index = segment.inverted_index(field)?;
        let mut terms = index.terms().stream()?;
        while terms.advance() {
            let Ok(term) = std::str::from_utf8(terms.key()) else {
                continue;
            };
            if decode(term).is_some_and(|parts| matches(parts[part])) && !found.contains(term) {
                found.insert(term.to_owned());
            }
        }
    }
    Ok(found
        .iter()
        .map(|term| Term::from_field_text(field, term))
        .collect())
}

/// Calls `each` with each of `ords` (sorted, distinct) and its term in `column`, in one
/// sorted pass over the dictionary: a lookup per ordinal decompresses a dictionary block
/// each time (with 30 k groups, 80 % of a group listing went there).
pub fn name_ords(column: &StrColumn, ords: &[u64], mut each: impl FnMut(u64, &[u8])) {
    let mut ords_iter = ords.iter();
    // An error leaves the rest unnamed; those are left out, as a missing term would be.
    let _ = column.dictionary().sorted_ords_to_term_cb(ords, |bytes| {
        if let Some(&ord) = ords_iter.next() {
            each(ord, bytes);
        }
    });
}

/// A keyword column as listings read it: its own column, or for a part of the file values,
/// the `file` column read through that part.
///
/// Ordinals are the column's: for a part, one per file term, and several may name the same
/// value, so whoever counts by ordinal adds up by name.
#[derive(Clone)]
pub struct ValueColumn {
    column: StrColumn,
    part: Option<usize>,
}

impl ValueColumn {
    /// The column of `name` in a segment, `None` if no event of it has a value there.
    pub fn open(ff: &FastFieldReaders, name: &str) -> tantivy::Result<Option<ValueColumn>> {
        let part = part(name);
        let column = ff.str(if part.is_some() { FILE_FIELD } else { name })?;
        Ok(column.map(|column| ValueColumn { column, part }))
    }

    /// How many ordinals the column has.
    pub fn num_ords(&self) -> usize {
        self.column.num_terms()
    }

    /// The ordinal of `doc`'s value.
    pub fn first_ord(&self, doc: DocId) -> Option<u64> {
        self.column.ords().first(doc)
    }

    /// The ordinals of `docs`' values, into `out` (as long as `docs`).
    pub fn first_ords(&self, docs: &[DocId], out: &mut [Option<u64>]) {
        self.column.ords().first_vals(docs, out);
    }

    /// Calls `each` with each of the sorted `ords` and its value (see [`name_ords`]); an
    /// ordinal whose file term has no value for the part is skipped.
    pub fn name_ords(&self, ords: &[u64], mut each: impl FnMut(u64, &[u8])) {
        name_ords(&self.column, ords, |ord, bytes| match self.part {
            None => each(ord, bytes),
            Some(part) => {
                let value = std::str::from_utf8(bytes)
                    .ok()
                    .and_then(decode)
                    .and_then(|parts| parts[part]);
                if let Some(value) = value {
                    each(ord, value.as_bytes());
                }
            }
        });
    }

    /// The value of ordinal `ord`.
    pub fn ord_value(&self, ord: u64) -> Option<String> {
        let mut term = String::new();
        if !self.column.ord_to_str(ord, &mut term).ok()? {
            return None;
        }
        match self.part {
            None => Some(term),
            Some(part) => decode(&term)?[part].map(str::to_owned),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_come_back_as_written_whatever_they_hold() {
        let parts: Parts = [
            Some("billing"),
            None,
            Some(""),
            Some("web-01:8080"),
            Some("12:-3"),
            None,
            Some("/var/log/a-b_c 1:2.log"),
        ];
        let mut term = String::new();
        encode(&parts, &mut term);
        assert_eq!(decode(&term), Some(parts));
        let none: Parts = [None; PARTS.len()];
        encode(&none, &mut term);
        assert_eq!(decode(&term), Some(none));
        assert_eq!(decode("billing"), None);
        assert_eq!(decode("-------extra"), None);
        assert_eq!(decode("9:short------"), None);
    }
}
