//! Indexed events read for queries: [`EventReader`] turns hits into [`StoredEvent`]s (see
//! [`crate::index::stored`]), keeping each segment's fast columns between queries.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use tantivy::index::SegmentId;
use tantivy::{DocAddress, Searcher, TantivyDocument};

use crate::index::Fields;
pub use crate::index::stored::StoredEvent;
use crate::index::stored::{EventColumns, stored_event};
use crate::index::texts::TextStore;

/// The fast columns of the segments events were read from, kept between queries: opening
/// a segment's columns costs about 0.2 ms, and the newest hits of a query are spread over
/// every segment. Also where events' texts are read (see [`crate::index::texts`]).
#[derive(Default)]
pub struct ColumnCache {
    columns: Mutex<HashMap<SegmentId, Arc<EventColumns>>>,
    texts: OnceLock<Arc<TextStore>>,
    /// The data directory the texts index is opened from when it appears there.
    texts_in: Option<PathBuf>,
}

impl ColumnCache {
    /// A cache whose texts are opened from `data` when they are there.
    pub(super) fn opening_texts_in(data: &Path) -> Self {
        ColumnCache {
            texts_in: Some(data.to_path_buf()),
            ..Default::default()
        }
    }

    /// A cache whose texts are read from `texts`.
    pub(super) fn with_texts(texts: TextStore) -> Self {
        let cache = ColumnCache::default();
        let _ = cache.texts.set(Arc::new(texts));
        cache
    }

    /// The texts index, if there is one.
    fn texts(&self) -> tantivy::Result<Option<Arc<TextStore>>> {
        if let Some(texts) = self.texts.get() {
            return Ok(Some(texts.clone()));
        }
        let Some(data) = &self.texts_in else {
            return Ok(None);
        };
        // Writers create it beside the events' index: a reader opened between the two
        // opens it when it appears.
        let opened = TextStore::open(data).map_err(|err| {
            tantivy::TantivyError::SystemError(crate::error::Chain(&err).to_string())
        })?;
        Ok(opened.map(|texts| self.texts.get_or_init(|| Arc::new(texts)).clone()))
    }

    pub(super) fn get(
        &self,
        searcher: &Searcher,
        segment: u32,
    ) -> tantivy::Result<Arc<EventColumns>> {
        let reader = searcher.segment_reader(segment);
        let id = reader.segment_id();
        let mut cache = self.columns.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(columns) = cache.get(&id) {
            return Ok(columns.clone());
        }
        let columns = Arc::new(EventColumns::open(reader, self.texts()?)?);
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
        let mut writer = EventWriter::open(&index, fields, 32 << 20, 1)
            .and_then(|writer| writer.with_stores(&dir.path().join("data")))
            .unwrap();
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
