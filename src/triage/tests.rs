use std::path::Path;
use std::sync::Arc;

use super::*;
use crate::config::ConfigFile;
use crate::index::EventWriter;
use crate::pipeline::PipelineSettings;

struct Fixture {
    data: tempfile::TempDir,
    settings: PipelineSettings,
    writer: EventWriter,
    reader: Reader,
    offset: u64,
}

impl Fixture {
    fn new() -> Fixture {
        let data = tempfile::tempdir().unwrap();
        let (index, fields) = crate::index::open_or_create(data.path()).unwrap();
        let writer = EventWriter::open(&index, fields.clone(), 32 << 20, 1).unwrap();
        let reader = Reader::new(index, fields).unwrap();
        let settings = ConfigFile::default()
            .settings(Some("UTC"), 1, 2024)
            .unwrap();
        Fixture {
            data,
            settings,
            writer,
            reader,
            offset: 0,
        }
    }

    /// Indexes and commits one event of the `charge failed` group, at `ts`, from release
    /// `tag`; returns the group's fingerprint.
    fn event(&mut self, ts: Timestamp, tag: &str) -> String {
        let name = format!("/logs/app_billing_pro_{tag}_web01_20240301.log");
        let file = Arc::new(self.settings.file_info(Path::new(&name)));
        let time = ts.strftime("%Y-%m-%d %H:%M:%S,%3f");
        let text = format!(
            "{time} ERROR [main] com.acme.Billing - charge failed\n\
             java.lang.IllegalStateException: card declined\n\
             \tat com.acme.Billing.charge(Billing.java:42)"
        );
        let mut event =
            crate::read::refold(self.settings.line_folder(&file), &text).expect("one event");
        self.settings.analyzer.analyse(&mut event);
        event.end_offset += self.offset;
        event.offset += self.offset;
        self.offset += 1000;
        let fingerprint = event.exception.as_ref().unwrap().fingerprint.clone();
        self.writer.add(&name, event).unwrap();
        self.writer.commit().unwrap();
        self.reader.reload().unwrap();
        // Batches and records are in milliseconds: keep what follows strictly later.
        std::thread::sleep(std::time::Duration::from_millis(5));
        fingerprint
    }

    fn store(&self) -> Store {
        Store::open(self.data.path()).unwrap()
    }

    fn status(&self, fp: &str) -> Triaged {
        let record = self.store().record(fp).unwrap().unwrap();
        status_of(&self.reader, &record, Timestamp::now()).unwrap()
    }

    fn set(&self, fp: &str, change: Change) {
        self.store().set(fp, &change, "alice").unwrap();
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

fn change(status: Status) -> Change {
    Change {
        status,
        in_release: None,
        until_count: None,
        until: None,
    }
}

fn now() -> Timestamp {
    Timestamp::now()
}

#[test]
fn a_resolved_group_seen_again_is_unresolved_and_regressed() {
    let mut f = Fixture::new();
    let fp = f.event(now(), "1.4.2");
    f.set(&fp, change(Status::Resolved));
    assert_eq!(f.status(&fp).status, Status::Resolved);
    // Old logs indexed late (timestamped before the resolve) do not reopen it.
    f.event(now() - jiff::SignedDuration::from_hours(24), "1.4.2");
    assert_eq!(f.status(&fp).status, Status::Resolved);
    let back = now();
    f.event(back, "1.4.3");
    let triaged = f.status(&fp);
    assert_eq!(triaged.status, Status::Unresolved);
    assert_eq!(triaged.regressed_in.as_deref(), Some("1.4.3"));
    assert!(triaged.regressed_at.is_some());
    let history = f.store().history(&fp).unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(
        (history[0].status, history[0].by.as_str()),
        (Status::Resolved, "alice")
    );
}

#[test]
fn resolved_in_a_release_is_reopened_only_by_later_releases() {
    let mut f = Fixture::new();
    let fp = f.event(now(), "1.4.2");
    f.set(
        &fp,
        Change {
            in_release: Some("1.4.3".into()),
            ..change(Status::Resolved)
        },
    );
    f.event(now(), "1.4.2");
    f.event(now(), "1.4.3");
    assert_eq!(f.status(&fp).status, Status::Resolved);
    f.event(now(), "1.10.0");
    let triaged = f.status(&fp);
    assert_eq!(triaged.status, Status::Unresolved);
    assert_eq!(triaged.regressed_in.as_deref(), Some("1.10.0"));
}

#[test]
fn an_ignored_group_comes_back_after_its_count_or_its_date() {
    let mut f = Fixture::new();
    let fp = f.event(now(), "1.4.2");
    f.set(
        &fp,
        Change {
            until_count: Some(2),
            ..change(Status::Ignored)
        },
    );
    f.event(now(), "1.4.2");
    assert_eq!(f.status(&fp).status, Status::Ignored);
    f.event(now(), "1.4.2");
    assert_eq!(f.status(&fp).status, Status::Unresolved);
    assert_eq!(
        f.status(&fp).regressed_at,
        None,
        "an ignored group does not regress"
    );

    f.set(
        &fp,
        Change {
            until: Some(now() + jiff::SignedDuration::from_hours(1)),
            ..change(Status::Ignored)
        },
    );
    assert_eq!(f.status(&fp).status, Status::Ignored);
    f.set(
        &fp,
        Change {
            until: Some(now() - jiff::SignedDuration::from_secs(1)),
            ..change(Status::Ignored)
        },
    );
    assert_eq!(f.status(&fp).status, Status::Unresolved);
}

#[test]
fn the_list_filters_by_status_before_its_limit() {
    let mut f = Fixture::new();
    let fp = f.event(now(), "1.4.2");
    f.set(&fp, change(Status::Resolved));
    let list = |status| {
        let filters = Filters::default();
        let query = GroupQuery {
            text: "",
            filters: &filters,
            sort: GroupSort::Count,
            limit: 1,
            trend_buckets: 0,
            status,
        };
        group_list(&f.reader, &f.store().records().unwrap(), query)
            .unwrap()
            .groups
    };
    assert!(list(StatusFilter::Unresolved).is_empty());
    let resolved = list(StatusFilter::Resolved);
    assert_eq!(resolved.len(), 1);
    assert_eq!(resolved[0].status, "resolved");
    assert_eq!(list(StatusFilter::All).len(), 1);
}

#[test]
fn the_state_survives_reopening_the_database() {
    let f = Fixture::new();
    f.set(&"a".repeat(32), change(Status::Ignored));
    drop(f.store());
    let records = f.store().records().unwrap();
    assert_eq!(records[&"a".repeat(32)].status, Status::Ignored);
}

#[test]
fn releases_compare_as_numbered() {
    assert_eq!(compare_releases("1.10.0", "1.9.2"), Ordering::Greater);
    assert_eq!(compare_releases("1.4.2", "1.4.3"), Ordering::Less);
    assert_eq!(compare_releases("v2", "v10"), Ordering::Less);
    assert_eq!(compare_releases("1.4", "1.4.0"), Ordering::Less);
    assert_eq!(
        compare_releases("2024.03.01", "2024.03.01"),
        Ordering::Equal
    );
}

#[test]
fn changes_that_make_no_sense_are_refused() {
    let bad = Change {
        in_release: Some("1.4".into()),
        ..change(Status::Ignored)
    };
    assert!(bad.problem().unwrap().contains("in_release"));
    let bad = Change {
        until_count: Some(3),
        ..change(Status::Resolved)
    };
    assert!(bad.problem().is_some());
    assert!(change(Status::Resolved).problem().is_none());
}
