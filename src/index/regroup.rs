//! Re-grouping what is indexed when the grouping changes: a new [`GROUPING_VERSION`], new
//! `[[grouping.rules]]`, other in-app prefixes.
//!
//! Each event's exception is found again in its stored text and fingerprinted by the
//! current rules, as if it were folded now; the events whose exception changed (a new
//! fingerprint, an exception found where there was none, or none any more) are written
//! again in one commit, keeping their id, their batch of ingest and the ids of the shipped
//! documents they hold, and the checkpoints stay as they are. Where events start and end
//! does not change: that takes reading the files again.
//!
//! Two passes over the stored events, so memory holds only the ids that change: the first
//! finds them; the second deletes every event with such an id and adds it again.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde::Serialize;
use tantivy::schema::IndexRecordOption;
use tantivy::{DocId, DocSet, Index, ReloadPolicy, SegmentReader, TERMINATED};

use super::stored::{
    EventColumns, EventIds, ReadBack, Reading, analysed, found_again, indexed_under, read_back,
};
use super::texts::TextStore;
use super::{EventWriter, Fields};
use crate::error::{Error, Result};
use crate::event::{Event, Exception};
use crate::fold::GROUPING_VERSION;
use crate::pipeline::PipelineSettings;

/// Blocks of the docstore kept decompressed while events are read in order.
const STORE_CACHE_BLOCKS: usize = 8;

/// What re-grouping found (and, unless it was a dry run, changed).
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct RegroupReport {
    /// Events read.
    pub events: u64,
    /// Events whose exception changed.
    pub changed: u64,
    /// Of those, events that hold an exception now and did not before.
    pub new_exceptions: u64,
    /// Of those, events that held an exception and do not now.
    pub lost_exceptions: u64,
    /// Events whose exception was made by an older version of the grouping.
    pub older_version: u64,
    /// Events without an exception whose pattern id changed (the pattern rules changed).
    pub patterns_changed: u64,
    /// Distinct fingerprints before and after.
    pub groups_before: u64,
    pub groups_after: u64,
    /// The grouping version of the fingerprints after.
    pub grouping_version: u32,
}

/// Recomputes the exception of every event of `index` with `settings`; writes the events
/// whose exception changed through `writer` and commits, or with no writer only reports.
pub fn regroup(
    index: &Index,
    fields: &Fields,
    settings: &PipelineSettings,
    texts: Option<Arc<TextStore>>,
    writer: Option<&mut EventWriter>,
) -> Result<RegroupReport> {
    let reader = index
        .reader_builder()
        .reload_policy(ReloadPolicy::Manual)
        .try_into()?;
    let searcher = reader.searcher();
    let mut report = RegroupReport {
        grouping_version: GROUPING_VERSION,
        ..RegroupReport::default()
    };
    let mut before = HashSet::new();
    let mut after = HashSet::new();
    let mut changed = HashSet::new();
    for segment in searcher.segment_readers() {
        for_each_event(
            segment,
            fields,
            settings,
            texts.as_ref(),
            |doc, columns, (old, old_pattern), event| {
                report.events += 1;
                let id = columns.ids.id(doc).unwrap_or(0);
                let new_pattern = event.pattern.as_ref().map(|p| &p.id);
                if new_pattern.is_some() && old_pattern.as_ref() != new_pattern {
                    report.patterns_changed += 1;
                    changed.insert(id);
                }
                let new = event.exception.as_ref();
                if let Some(old) = &old {
                    before.insert(old.fingerprint.clone());
                    report.older_version += u64::from(old.grouping_version < GROUPING_VERSION);
                }
                if let Some(new) = new {
                    after.insert(new.fingerprint.clone());
                }
                if old.as_ref() != new {
                    report.changed += 1;
                    report.new_exceptions += u64::from(old.is_none());
                    report.lost_exceptions += u64::from(new.is_none());
                    changed.insert(id);
                }
                Ok(())
            },
        )?;
    }
    report.groups_before = before.len() as u64;
    report.groups_after = after.len() as u64;
    let Some(writer) = writer else {
        return Ok(report);
    };
    if changed.is_empty() {
        return Ok(report);
    }
    let changed = Arc::new(changed);
    writer.delete_ids(Arc::clone(&changed))?;
    for segment in searcher.segment_readers() {
        let ingested = segment.fast_fields().u64("ingested")?;
        let wanted = docs_with_ids(segment, &changed)?;
        if wanted.is_empty() {
            continue;
        }
        let mut doc_ids = shipped_ids(segment, fields, &wanted)?;
        for_each_event(
            segment,
            fields,
            settings,
            texts.as_ref(),
            |doc, columns, _, event| {
                if wanted.contains(&doc) {
                    let batch = ingested.first(doc).unwrap_or(0);
                    let ids = doc_ids.remove(&doc).unwrap_or_default();
                    let key = columns.ids.key(doc).unwrap_or_default();
                    writer.add_again(&key, event, batch, &ids)?;
                }
                Ok(())
            },
        )?;
    }
    writer.commit()?;
    Ok(report)
}

/// Calls `visit` with every live event of `segment`: its doc, the segment's columns (its
/// id, key...), the exception and pattern id stored with it, and the event with its exception
/// or pattern found again by `settings`.
fn for_each_event(
    segment: &SegmentReader,
    fields: &Fields,
    settings: &PipelineSettings,
    texts: Option<&Arc<TextStore>>,
    mut visit: impl FnMut(
        DocId,
        &EventColumns,
        (Option<Exception>, Option<String>),
        Event,
    ) -> Result<()>,
) -> Result<()> {
    let columns = EventColumns::open(segment, texts.cloned())?;
    let store = segment.get_store_reader(STORE_CACHE_BLOCKS).map_err(io)?;
    let fingerprints = columns.fingerprints().map_err(io)?;
    let reading = Reading {
        zone: settings.zone.clone(),
        assume_year: settings.assume_year,
        event_start: settings.event_start.clone(),
    };
    for doc in 0..segment.max_doc() {
        if segment.is_deleted(doc) {
            continue;
        }
        let ReadBack { stored, to_find } = read_back(fields, &store.get(doc)?, &columns, doc);
        // The indexed id, not one computed again: an event indexed without one has none.
        let old_pattern = columns.str("pattern", doc);
        let event = analysed(&stored.event, &reading, &settings.analyzer);
        let old = if !to_find {
            stored.event.exception.as_deref().cloned()
        } else {
            let (fingerprint, version) = columns.group(doc, &fingerprints);
            if settings.analyzer.standard {
                // What the reader would find again is what was just found, under the group
                // the event is indexed under: the same analysis need not run twice.
                (event.exception.clone()).map(|x| indexed_under(x, fingerprint, version))
            } else {
                found_again(&stored.event, fingerprint, version)
            }
        };
        visit(doc, &columns, (old, old_pattern), event)?;
    }
    Ok(())
}

/// The live docs of `segment` whose id is in `ids`.
fn docs_with_ids(segment: &SegmentReader, ids: &HashSet<u64>) -> Result<HashSet<DocId>> {
    let column = EventIds::open(segment)?;
    Ok((0..segment.max_doc())
        .filter(|&doc| !segment.is_deleted(doc))
        .filter(|&doc| column.id(doc).is_some_and(|id| ids.contains(&id)))
        .collect())
}

/// The ids of the shipped documents each of `docs` was folded from: indexed, not stored,
/// so read from the `doc_id` terms of `segment`.
fn shipped_ids(
    segment: &SegmentReader,
    fields: &Fields,
    docs: &HashSet<DocId>,
) -> Result<HashMap<DocId, Vec<String>>> {
    let mut out: HashMap<DocId, Vec<String>> = HashMap::new();
    let inverted = segment.inverted_index(fields.doc_id)?;
    let mut terms = inverted.terms().stream().map_err(io)?;
    while terms.advance() {
        let mut postings = inverted
            .read_postings_from_terminfo(terms.value(), IndexRecordOption::Basic)
            .map_err(io)?;
        let mut doc = postings.doc();
        while doc != TERMINATED {
            if docs.contains(&doc) {
                let id = String::from_utf8_lossy(terms.key()).into_owned();
                out.entry(doc).or_default().push(id);
            }
            doc = postings.advance();
        }
    }
    Ok(out)
}

fn io(err: std::io::Error) -> Error {
    Error::Index(err.into())
}

#[cfg(test)]
mod tests {
    use tantivy::TantivyDocument;
    use tantivy::collector::TopDocs;
    use tantivy::query::TermQuery;
    use tantivy::schema::Term;

    use super::*;
    use crate::config::ConfigFile;
    use crate::index::stored::stored_event;

    fn settings(config: &str) -> PipelineSettings {
        ConfigFile::parse(config)
            .unwrap()
            .settings(Some("UTC"), 1, 2024)
            .unwrap()
    }

    /// `text` folded and analysed as `stackfold index` would.
    fn event(settings: &PipelineSettings, text: &str) -> Event {
        let file = Arc::new(settings.file_info(std::path::Path::new("/logs/app.log")));
        let mut event = crate::read::refold(settings.line_folder(&file), text).unwrap();
        settings.analyzer.analyse(&mut event);
        event
    }

    const TRACE: &str = "2024-03-01 10:00:00,000 ERROR [main] com.acme.Billing - charge failed\n\
        java.lang.IllegalStateException: card 42 declined\n\
        \tat com.acme.Billing.charge(Billing.java:42)\n\
        \tat com.acme.Api.handle(Api.java:7)";
    const FRAMELESS: &str = "2024-03-01 10:00:01,000 ERROR [main] com.acme.Cache - \
        java.lang.OutOfMemoryError: Java heap space";
    const PLAIN: &str = "2024-03-01 10:00:02,000 INFO  [main] com.acme.App - started";

    fn stored_exception(index: &Index, fields: &Fields, id: &str) -> (usize, Option<Exception>) {
        let searcher = index.reader().unwrap().searcher();
        let query = TermQuery::new(
            Term::from_field_text(fields.doc_id, id),
            IndexRecordOption::Basic,
        );
        let hits = searcher
            .search(&query, &TopDocs::with_limit(10).order_by_score())
            .unwrap();
        let exception = hits.first().and_then(|(_, address)| {
            let doc: TantivyDocument = searcher.doc(*address).unwrap();
            let segment = searcher.segment_reader(address.segment_ord);
            let columns = EventColumns::open(segment, None).unwrap();
            let stored = stored_event(fields, &doc, &columns, address.doc_id);
            stored.event.exception.map(std::borrow::Cow::into_owned)
        });
        (hits.len(), exception)
    }

    #[test]
    fn stale_and_missing_exceptions_are_found_again_and_shipped_ids_kept() {
        let dir = tempfile::tempdir().unwrap();
        let (index, fields) = super::super::open_or_create(dir.path()).unwrap();
        let now = settings("");
        let mut writer = EventWriter::open(&index, fields.clone(), 32 << 20, 1).unwrap();
        // Grouped by an older version (another fingerprint), shipped as two documents.
        let mut stale = event(&now, TRACE);
        let fresh = stale.exception.clone().unwrap();
        let x = stale.exception.as_mut().unwrap();
        x.grouping_version = GROUPING_VERSION - 1;
        x.fingerprint = "0".repeat(32);
        writer
            .add_shipped("stream:web01 app", stale, &["a:1".into(), "a:2".into()])
            .unwrap();
        // An exception an older version did not see.
        let mut missed = event(&now, FRAMELESS);
        assert!(missed.exception.take().is_some());
        writer
            .add_shipped("stream:web01 app", missed, &["a:3".into()])
            .unwrap();
        writer
            .add_shipped("stream:web01 app", event(&now, PLAIN), &["a:4".into()])
            .unwrap();
        // A pattern made by other rules.
        let mut moved = event(&now, &PLAIN.replace("started", "stopped after 5 s"));
        let pattern = moved.pattern.clone().unwrap();
        moved.pattern.as_mut().unwrap().id = "0".repeat(16);
        writer
            .add_shipped("stream:web01 app", moved, &["a:5".into()])
            .unwrap();
        writer.commit().unwrap();
        let with_pattern = |id: &str| {
            let query = TermQuery::new(
                Term::from_field_text(fields.pattern, id),
                IndexRecordOption::Basic,
            );
            let searcher = index.reader().unwrap().searcher();
            searcher.search(&query, &tantivy::collector::Count).unwrap()
        };
        assert_eq!(with_pattern(&"0".repeat(16)), 1);

        let dry = regroup(&index, &fields, &now, None, None).unwrap();
        assert_eq!(
            (
                dry.events,
                dry.changed,
                dry.new_exceptions,
                dry.older_version,
                dry.patterns_changed
            ),
            (4, 2, 1, 1, 1)
        );
        assert_eq!(
            stored_exception(&index, &fields, "a:1")
                .1
                .unwrap()
                .fingerprint,
            "0".repeat(32)
        );

        let report = regroup(&index, &fields, &now, None, Some(&mut writer)).unwrap();
        assert_eq!(report, dry);
        assert_eq!(index.reader().unwrap().searcher().num_docs(), 4);
        assert_eq!(with_pattern(&"0".repeat(16)), 0);
        assert_eq!(with_pattern(&pattern.id), 1);
        // Each shipped id still finds its one event: a retried document is not indexed twice.
        for id in ["a:1", "a:2"] {
            assert_eq!(
                stored_exception(&index, &fields, id),
                (1, Some(fresh.clone()))
            );
        }
        let (hits, found) = stored_exception(&index, &fields, "a:3");
        assert_eq!(hits, 1);
        assert_eq!(found.unwrap().root_type, "java.lang.OutOfMemoryError");
        assert_eq!(stored_exception(&index, &fields, "a:4"), (1, None));
        // Nothing left to change.
        assert_eq!(
            regroup(&index, &fields, &now, None, Some(&mut writer))
                .unwrap()
                .changed,
            0
        );
    }

    #[test]
    fn a_new_rule_regroups_the_events_it_matches_and_only_those() {
        let dir = tempfile::tempdir().unwrap();
        let (index, fields) = super::super::open_or_create(dir.path()).unwrap();
        let before = settings("");
        let mut writer = EventWriter::open(&index, fields.clone(), 32 << 20, 1).unwrap();
        writer.add("/logs/app.log", event(&before, TRACE)).unwrap();
        writer
            .add("/logs/app.log", event(&before, FRAMELESS))
            .unwrap();
        writer.commit().unwrap();
        let after = settings(
            "[[grouping.rules]]\ntype = \"java.lang.IllegalStateException\"\nfingerprint = [\"card-declined\"]\n",
        );
        let report = regroup(&index, &fields, &after, None, Some(&mut writer)).unwrap();
        assert_eq!(
            (report.changed, report.groups_before, report.groups_after),
            (1, 2, 2)
        );
        let searcher = index.reader().unwrap().searcher();
        let grouped =
            crate::fold::fingerprint::hash(&["rule:1".into(), "value:card-declined".into()]);
        let query = TermQuery::new(
            Term::from_field_text(fields.fingerprint, &grouped),
            IndexRecordOption::Basic,
        );
        assert_eq!(
            searcher.search(&query, &tantivy::collector::Count).unwrap(),
            1
        );
        assert_eq!(searcher.num_docs(), 2);
    }
}
