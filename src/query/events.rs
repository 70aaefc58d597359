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
    pub(super) fn get(
        &self,
        searcher: &Searcher,
        segment: u32,
    ) -> tantivy::Result<Arc<EventColumns>> {
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

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::sync::Arc;

    use crate::index::document::{event_id, format_id, parse_id};
    use crate::index::{EventWriter, file_key};
    use crate::query::{Filters, Reader};

    /// An id is the event's file key and offset: every event is found by it, two events never
    /// share it, an id that names no event start finds nothing, and an event written again
    /// under its id is found as written again, not as the deleted document.
    #[test]
    fn every_event_is_found_by_its_id_and_nothing_by_another() {
        let dir = tempfile::tempdir().unwrap();
        let settings = crate::config::ConfigFile::default()
            .settings(Some("UTC"), 1, 2020)
            .unwrap();
        let (index, fields) = crate::index::open_or_create(&dir.path().join("data")).unwrap();
        let mut writer = EventWriter::open(&index, fields, 32 << 20, 1).unwrap();
        let mut all = Vec::new();
        // Two files with the same offsets, in one segment.
        for host in ["h1", "h2"] {
            let path = dir
                .path()
                .join(format!("app_billing_pro_1.0_{host}_20240301.log"));
            let text: String = (0..40)
                .map(|n| format!("2024-03-01 10:00:{n:02},000 INFO [main] c.a.B - event {n}\n"))
                .collect();
            std::fs::write(&path, text).unwrap();
            let (events, _) = crate::pipeline::collect_file(path.clone(), &settings);
            for event in &events {
                writer.add(&file_key(&path), event.clone()).unwrap();
            }
            all.extend(events.into_iter().map(|e| (file_key(&path), e)));
        }
        writer.commit().unwrap();
        let reader = Reader::open(&dir.path().join("data")).unwrap();
        let found = reader.search("", &Filters::default(), 1000).unwrap();
        assert_eq!(found.len(), 80);
        let ids: HashSet<&str> = found.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids.len(), 80);
        for shown in &found {
            let key = shown.event.source.as_ref();
            assert_eq!(shown.id, format_id(event_id(key, shown.event.offset)));
            assert_eq!(reader.event(&shown.id).unwrap().as_ref(), Some(shown));
            let next_byte = format_id(parse_id(&shown.id).unwrap() + 1);
            assert_eq!(reader.event(&next_byte).unwrap(), None);
        }

        let (key, mut event) = all.swap_remove(7);
        let id = event_id(&key, event.offset);
        writer.delete_ids(Arc::new(HashSet::from([id]))).unwrap();
        event.text.push_str(" (again)");
        writer.add_again(&key, event, 1, &[]).unwrap();
        writer.commit().unwrap();
        reader.reload().unwrap();
        let again = reader.event(&format_id(id)).unwrap().unwrap();
        assert!(again.event.text.ends_with(" (again)"), "{again:?}");
        assert_eq!(
            reader.search("", &Filters::default(), 1000).unwrap().len(),
            80
        );
    }
}
