//! Indexed events read for queries: [`EventReader`] turns hits into [`StoredEvent`]s (see
//! [`crate::index::stored`]), keeping each segment's fast columns between queries.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use tantivy::index::SegmentId;
use tantivy::{DocAddress, Searcher, TantivyDocument};

use crate::index::Fields;
pub use crate::index::stored::StoredEvent;
use crate::index::stored::{EventColumns, stored_event};

/// The fast columns of the segments events were read from, kept between queries: opening
/// a segment's columns costs about 0.2 ms, and the newest hits of a query are spread over
/// every segment.
#[derive(Default)]
pub struct ColumnCache(Mutex<HashMap<SegmentId, Arc<EventColumns>>>);

impl ColumnCache {
    fn get(&self, searcher: &Searcher, segment: u32) -> tantivy::Result<Arc<EventColumns>> {
        let reader = searcher.segment_reader(segment);
        let id = reader.segment_id();
        let mut cache = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(columns) = cache.get(&id) {
            return Ok(columns.clone());
        }
        let columns = Arc::new(EventColumns::open(reader)?);
        // Segments merged away since are forgotten when a new one is met.
        let live: HashSet<SegmentId> = searcher
            .segment_readers()
            .iter()
            .map(|r| r.segment_id())
            .collect();
        cache.retain(|id, _| live.contains(id));
        cache.insert(id, columns.clone());
        Ok(columns)
    }
}

/// Reads events from one searcher.
pub struct EventReader<'a> {
    searcher: &'a Searcher,
    fields: &'a Fields,
    columns: &'a ColumnCache,
}

impl<'a> EventReader<'a> {
    pub fn new(searcher: &'a Searcher, fields: &'a Fields, columns: &'a ColumnCache) -> Self {
        EventReader {
            searcher,
            fields,
            columns,
        }
    }

    /// The event at `address`.
    pub fn event(&self, address: DocAddress) -> tantivy::Result<StoredEvent> {
        let doc: TantivyDocument = self.searcher.doc(address)?;
        let columns = self.columns.get(self.searcher, address.segment_ord)?;
        Ok(stored_event(self.fields, &doc, &columns, address.doc_id))
    }
}
