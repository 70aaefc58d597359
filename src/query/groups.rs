//! Exception groups: the list with exact counts and trends, and one group in full.

use serde::{Deserialize, Serialize};
use tantivy::{DocAddress, Searcher, TantivyDocument};

use super::events::StoredEvent;
use super::filters::{Filters, QueryError};
use super::group_stats::{
    FINGERPRINT, GroupCollector, GroupStats, Key, KeyField, PageCollector, PageStats,
};
use super::histogram::Histogram;
use super::{Reader, ValueCount, micros_to_string, sorted_counts};
use crate::event::Exception;

/// An exception group as listed: the fields of `stackfold exceptions --json` and
/// `GET /api/exceptions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupSummary {
    pub fingerprint: String,
    pub count: u64,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
    pub root_type: String,
    pub template: String,
    pub language: String,
    /// `module.function` of the latest event's most recent in-app frame.
    pub top_frame: Option<String>,
    /// The image tag of the earliest matching event.
    pub first_tag: Option<String>,
    pub apps: Vec<ValueCount>,
    pub envs: Vec<ValueCount>,
    pub hosts: Vec<ValueCount>,
    pub tags: Vec<ValueCount>,
    /// Events per trend bucket (see [`GroupList`]); empty unless asked for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trend: Vec<u64>,
    /// The group's triage status as of now: `unresolved`, `resolved` or `ignored` (see
    /// [`crate::triage`]); `unresolved` for a group nobody triaged.
    #[serde(default = "unresolved")]
    pub status: String,
    /// When a resolved group came back: the time of its first event since.
    #[serde(default)]
    pub regressed_at: Option<String>,
    /// The image tag of that event.
    #[serde(default)]
    pub regressed_in: Option<String>,
    #[serde(skip)]
    latest: Option<DocAddress>,
}

fn unresolved() -> String {
    "unresolved".to_owned()
}

/// How to order groups.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum GroupSort {
    /// Most events first.
    #[default]
    Count,
    /// Most recently seen first.
    LastSeen,
    /// Most recently appeared first.
    FirstSeen,
}

impl std::str::FromStr for GroupSort {
    type Err = QueryError;

    fn from_str(s: &str) -> Result<Self, QueryError> {
        match s {
            "count" => Ok(GroupSort::Count),
            "last_seen" => Ok(GroupSort::LastSeen),
            "first_seen" => Ok(GroupSort::FirstSeen),
            other => Err(QueryError::BadParameter(format!(
                "sort {other:?}: use count, last_seen or first_seen"
            ))),
        }
    }
}

/// Groups with the trend buckets their `trend` series count.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupList {
    pub groups: Vec<GroupSummary>,
    /// Start of the first trend bucket.
    pub trend_from: Option<String>,
    pub trend_interval_seconds: Option<i64>,
}

/// One group in full: summary, latest event, explanation, histogram and samples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupDetail {
    #[serde(flatten)]
    pub summary: GroupSummary,
    /// The latest event of the group, whose trace stands for the group (frames marked
    /// `in_app`).
    pub latest: Option<StoredEvent>,
    /// The components hashed into the fingerprint.
    pub explain: Vec<String>,
    pub histogram: Histogram,
    /// The newest events of the group.
    pub samples: Vec<StoredEvent>,
}

/// How a listing is ordered and cut, and how many trend buckets its rows get.
#[derive(Debug, Clone, Copy)]
pub(super) struct Order {
    pub sort: GroupSort,
    pub limit: usize,
    pub trend_buckets: usize,
}

/// A listed group or pattern: its key, counts, and what the second pass counted.
pub(super) struct Ranked {
    pub name: String,
    pub stats: GroupStats,
    /// The image tag of its earliest event.
    pub first_tag: Option<String>,
    pub page: PageStats,
}

/// The rows of a listing and the trend buckets they count in.
pub(super) struct Ranking {
    pub rows: Vec<Ranked>,
    pub trend_from: Option<String>,
    pub trend_interval_seconds: Option<i64>,
}

impl Reader {
    /// The exception groups of the matching events, most frequent first.
    pub fn groups(&self, text: &str, filters: &Filters) -> Result<Vec<GroupSummary>, QueryError> {
        Ok(self
            .group_list(text, filters, GroupSort::Count, usize::MAX, 0)?
            .groups)
    }

    /// The exception groups of the matching events in `sort` order, at most `limit`, each
    /// with a trend of `trend_buckets` buckets over the filters' time range (none if 0).
    pub fn group_list(
        &self,
        text: &str,
        filters: &Filters,
        sort: GroupSort,
        limit: usize,
        trend_buckets: usize,
    ) -> Result<GroupList, QueryError> {
        self.group_list_where(text, filters, sort, limit, trend_buckets, |_| true)
    }

    /// [`Reader::group_list`] of the groups whose fingerprint `keep` accepts, chosen before
    /// the limit applies.
    pub fn group_list_where(
        &self,
        text: &str,
        filters: &Filters,
        sort: GroupSort,
        limit: usize,
        trend_buckets: usize,
        keep: impl Fn(&str) -> bool,
    ) -> Result<GroupList, QueryError> {
        let searcher = self.searcher();
        let filters = Filters {
            exceptions_only: true,
            ..filters.clone()
        };
        let ranking = self.rank(
            &searcher,
            FINGERPRINT,
            text,
            &filters,
            Order {
                sort,
                limit,
                trend_buckets,
            },
            keep,
        )?;
        let groups = ranking
            .rows
            .into_iter()
            .map(|row| self.summary(&searcher, row))
            .collect::<Result<_, _>>()?;
        Ok(GroupList {
            groups,
            trend_from: ranking.trend_from,
            trend_interval_seconds: ranking.trend_interval_seconds,
        })
    }

    /// The values of `field` among the events matching `text` and `filters`, counted, in
    /// `order`, those shown with their breakdowns and trends: what the
    /// exception and pattern listings have in common. The rows' addresses are `searcher`'s:
    /// read their events through it.
    pub(super) fn rank(
        &self,
        searcher: &Searcher,
        field: KeyField,
        text: &str,
        filters: &Filters,
        order: Order,
        keep: impl Fn(&str) -> bool,
    ) -> Result<Ranking, QueryError> {
        let query = self.query(searcher, text, filters)?;
        let mut page = PageCollector::untrended(field);
        if order.trend_buckets > 0 {
            let (lo, hi) = self.span(searcher, &*query, text, filters)?;
            let span = (hi - lo).max(1);
            let buckets = order.trend_buckets as i64;
            page.from_us = lo;
            page.interval_us = (span + buckets - 1) / buckets;
            page.buckets = order.trend_buckets;
        }
        let describe = |filters: &Filters| format!("groups by {} {text:?} {filters:?}", field.name);
        let counts = self.aggregate(searcher, &*query, filters, describe, GroupCollector(field))?;
        let mut groups: Vec<(Key, &GroupStats)> = counts
            .groups
            .iter()
            .filter(|(key, _)| keep(&counts.name(**key)))
            .map(|(key, stats)| (*key, stats))
            .collect();
        let last = |s: &GroupStats| s.last.map_or(i64::MIN, |l| l.0);
        let first = |s: &GroupStats| s.first.as_ref().map_or(i64::MIN, |f| f.0);
        let by = |a: &(Key, &GroupStats), b: &(Key, &GroupStats)| {
            let by = match order.sort {
                GroupSort::Count => b.1.count.cmp(&a.1.count),
                GroupSort::LastSeen => last(b.1).cmp(&last(a.1)),
                GroupSort::FirstSeen => first(b.1).cmp(&first(a.1)),
            };
            by.then_with(|| a.0.cmp(&b.0))
        };
        // The page first, then its order: no need to sort 30 k groups to show 100.
        if order.limit < groups.len() {
            groups.select_nth_unstable_by(order.limit, by);
            groups.truncate(order.limit);
        }
        groups.sort_unstable_by(by);
        // The trends and breakdowns of the groups shown, over their events only.
        let shown = if groups.len() == counts.groups.len() {
            filters.clone()
        } else {
            let names = groups.iter().map(|(key, _)| counts.name(*key)).collect();
            filters.clone().with_keys(field, names)
        };
        let describe = |shown: &Filters| format!("page {page:?} {text:?} {shown:?}");
        let query = self.query(searcher, text, &shown)?;
        let mut pages = self.aggregate(searcher, &*query, &shown, describe, page)?;
        let rows = groups
            .into_iter()
            .map(|(key, stats)| {
                let mut page = pages.remove(&key).unwrap_or_default();
                page.breakdowns
                    .resize_with(field.dims.len(), Default::default);
                Ranked {
                    name: counts.name(key),
                    first_tag: counts.first_tag(stats),
                    stats: stats.clone(),
                    page,
                }
            })
            .collect();
        let trended = page.buckets > 0;
        Ok(Ranking {
            rows,
            trend_from: trended.then(|| micros_to_string(page.from_us)),
            trend_interval_seconds: trended.then(|| (page.interval_us / 1_000_000).max(1)),
        })
    }

    fn summary(&self, searcher: &Searcher, row: Ranked) -> Result<GroupSummary, QueryError> {
        let Ranked {
            name,
            stats,
            first_tag,
            page,
        } = row;
        let exception = match stats.latest_doc {
            Some(address) => self.stored_exception(searcher, address)?,
            None => None,
        };
        let mut breakdowns = page.breakdowns.into_iter().map(sorted_counts);
        let mut next = || breakdowns.next().unwrap_or_default();
        let (apps, envs, hosts, tags) = (next(), next(), next(), next());
        Ok(GroupSummary {
            fingerprint: name,
            count: stats.count,
            first_seen: stats.first.as_ref().map(|f| micros_to_string(f.0)),
            last_seen: stats.last.as_ref().map(|l| micros_to_string(l.0)),
            root_type: exception
                .as_ref()
                .map(|e| e.root_type.clone())
                .unwrap_or_default(),
            template: exception
                .as_ref()
                .map(|e| e.template.clone())
                .unwrap_or_default(),
            language: exception
                .as_ref()
                .map(|e| e.language.as_str().to_owned())
                .unwrap_or_default(),
            top_frame: exception
                .as_ref()
                .and_then(|e| e.top_in_app_frame())
                .map(|f| format!("{}.{}", f.module, f.function)),
            first_tag,
            apps,
            envs,
            hosts,
            tags,
            trend: page.trend,
            status: unresolved(),
            regressed_at: None,
            regressed_in: None,
            latest: stats.latest_doc,
        })
    }

    /// The group `fingerprint` among the matching events, with `samples` newest events.
    pub fn group(
        &self,
        fingerprint: &str,
        filters: &Filters,
        samples: usize,
    ) -> Result<Option<GroupDetail>, QueryError> {
        let filters = Filters {
            fingerprint: vec![fingerprint.to_owned()],
            ..filters.clone()
        };
        let Some(summary) = self.groups("", &filters)?.into_iter().next() else {
            return Ok(None);
        };
        let searcher = self.searcher();
        let latest = (summary.latest)
            .map(|address| self.event_at(&searcher, address))
            .transpose()?;
        let explain = latest
            .as_ref()
            .and_then(|e| e.event.exception.as_ref())
            .map(|x| x.explain.clone())
            .unwrap_or_default();
        let histogram = self.histogram("", &filters, None)?;
        let samples = self.search("", &filters, samples.max(1))?;
        Ok(Some(GroupDetail {
            summary,
            latest,
            explain,
            histogram,
            samples,
        }))
    }

    /// The exception of the event at `address`, if it has one, without the rest of the event.
    fn stored_exception(
        &self,
        searcher: &Searcher,
        address: DocAddress,
    ) -> Result<Option<Exception>, QueryError> {
        let doc: TantivyDocument = searcher.doc(address)?;
        let columns = self.columns.get(searcher, address.segment_ord)?;
        Ok(crate::index::stored::stored_exception(
            &self.fields,
            &doc,
            &columns,
            address.doc_id,
        ))
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    /// A Java error with a trace of `kind`, at `minute` past ten.
    fn error(kind: &str, minute: u32) -> String {
        format!(
            "2024-03-01 10:{minute:02}:00,000 ERROR [main] com.acme.Job - failed\n\
             java.lang.{kind}: boom\n\tat com.acme.Job.run(Job.java:10)\n"
        )
    }

    /// Indexes each `(file name, text)` in a commit of its own (a segment each).
    fn index(dir: &Path, files: &[(&str, String)]) -> Reader {
        let paths: Vec<_> = files
            .iter()
            .map(|(name, text)| {
                let path = dir.join(name);
                std::fs::write(&path, text).unwrap();
                path
            })
            .collect();
        let data = dir.join("data");
        crate::index::index_files_for_test(&data, &paths);
        Reader::open(&data).unwrap()
    }

    #[test]
    fn a_page_of_groups_has_the_same_breakdowns_and_first_tag_as_the_whole_list() {
        let dir = tempfile::tempdir().unwrap();
        let common = |n: u32| (0..n).map(|m| error("IllegalStateException", m)).collect();
        let files = [
            ("app_billing_pro_1.1.0_host1_20240301.log", common(5)),
            (
                "app_billing_pro_1.2.0_host2_20240301.log",
                error("IllegalStateException", 30) + &error("ArithmeticException", 31),
            ),
            ("app_orders_dev_1.0.0_host1_20240301.log", common(3)),
            (
                "app_orders_pro_0.9.0_host3_20240301.log",
                error("ArithmeticException", 0) + &error("ArithmeticException", 40),
            ),
        ];
        let reader = index(dir.path(), &files);
        let all = reader.groups("", &Filters::default()).unwrap();
        assert_eq!(all.len(), 2, "{all:#?}");
        let page = reader
            .group_list("", &Filters::default(), GroupSort::Count, 1, 4)
            .unwrap();
        assert_eq!(page.groups.len(), 1);
        let top = &page.groups[0];
        // 10:00 to 10:40 in four buckets of ten minutes.
        assert_eq!(top.trend, [8, 0, 1, 0]);
        assert_eq!(
            top,
            &GroupSummary {
                trend: top.trend.clone(),
                ..all[0].clone()
            }
        );
        assert_eq!(top.count, 9);
        fn counts(v: &[ValueCount]) -> Vec<(&str, u64)> {
            v.iter().map(|c| (c.value.as_str(), c.count)).collect()
        }
        assert_eq!(counts(&top.apps), [("billing", 6), ("orders", 3)]);
        assert_eq!(counts(&top.hosts), [("host1", 8), ("host2", 1)]);
        assert_eq!(top.first_tag.as_deref(), Some("1.1.0"));
        // The other group: its earliest event is in the last segment.
        let second = reader
            .group_list("", &Filters::default(), GroupSort::LastSeen, 1, 0)
            .unwrap();
        let other = &second.groups[0];
        assert_eq!(other, &all[1]);
        assert_eq!(other.first_tag.as_deref(), Some("0.9.0"));
        assert_eq!(counts(&other.envs), [("pro", 3)]);
        assert_eq!(counts(&other.tags), [("0.9.0", 2), ("1.2.0", 1)]);
    }

    /// Relative time ranges name another range at each request: the segments wholly inside
    /// or wholly outside one are answered from what an earlier range computed, and the
    /// answers stay exact, also for a segment the range cuts through.
    #[test]
    fn ranges_that_do_not_cut_a_segment_share_its_cached_answer() {
        let dir = tempfile::tempdir().unwrap();
        let day = |d: u32, minutes: &[u32]| -> String {
            let errors = minutes.iter().map(|&m| error("IllegalStateException", m));
            errors
                .collect::<String>()
                .replace("2024-03-01", &format!("2024-03-{d:02}"))
        };
        let reader = index(
            dir.path(),
            &[
                ("app_billing_pro_1.1.0_host1_20240301.log", day(1, &[1, 2])),
                (
                    "app_billing_pro_1.1.0_host1_20240302.log",
                    day(2, &[1, 2, 3]),
                ),
            ],
        );
        let at = |t: &str| Some(t.parse::<jiff::Timestamp>().unwrap());
        let count = |from: &str, to: &str| {
            let filters = Filters {
                from: at(from),
                to: at(to),
                ..Filters::default()
            };
            let fields = reader.field_values("", &filters, 10).unwrap();
            let total = fields["app"].iter().map(|v| v.count).sum::<u64>();
            (total, reader.aggregates.len())
        };
        // Both segments inside: one answer each, kept.
        let (total, kept) = count("2024-02-28T00:00:00Z", "2024-03-05T00:00:00Z");
        assert_eq!(total, 5);
        // Another range that holds both: nothing computed again.
        assert_eq!(
            count("2024-02-29T00:00:00Z", "2024-03-04T00:00:00Z"),
            (5, kept)
        );
        // The first day outside, the second inside; then another such range.
        let (total, after) = count("2024-03-01T12:00:00Z", "2024-03-06T00:00:00Z");
        assert_eq!((total, after), (3, kept + 1));
        assert_eq!(
            count("2024-03-01T18:00:00Z", "2024-03-07T00:00:00Z"),
            (3, after)
        );
        // A range through the second day's segment is counted exactly.
        assert_eq!(count("2024-03-01T00:00:00Z", "2024-03-02T10:02:00Z").0, 3);
        assert_eq!(count("2024-03-02T10:01:30Z", "2024-03-02T10:02:00Z").0, 0);
        assert_eq!(
            count("2024-03-02T10:02:00Z", "2024-03-02T10:02:00.001Z").0,
            1
        );
        // The end is excluded: an event at the end cuts the segment.
        assert_eq!(count("2024-03-02T00:00:00Z", "2024-03-02T10:03:00Z").0, 2);
        assert_eq!(
            count("2024-03-02T10:01:00Z", "2024-03-02T10:03:00.001Z").0,
            3
        );
    }

    /// What the segment cache gives must be what a fresh count gives: after a commit adds a
    /// segment and after a delete changes one.
    #[test]
    fn cached_aggregates_follow_new_segments_and_deletes() {
        let dir = tempfile::tempdir().unwrap();
        let first = [
            (
                "app_billing_pro_1.1.0_host1_20240301.log",
                error("IllegalStateException", 1) + &error("ArithmeticException", 2),
            ),
            (
                "app_orders_pro_1.1.0_host2_20240301.log",
                error("IllegalStateException", 4),
            ),
        ];
        let reader = index(dir.path(), &first);
        let everything = Filters::default();
        let counts = |reader: &Reader| {
            let groups = reader.groups("", &everything).unwrap();
            let fields = reader.field_values("", &everything, 10).unwrap();
            let histogram = reader.histogram("", &everything, Some(3600)).unwrap();
            (groups, fields["app"].clone(), histogram.buckets)
        };
        let before = counts(&reader);
        assert_eq!(counts(&reader), before, "the same answer from the cache");
        assert!(reader.aggregates.len() > 0, "aggregates were kept");
        assert_eq!(before.0.iter().map(|g| g.count).sum::<u64>(), 3);

        // A third file, a new segment.
        let path = dir.path().join("app_billing_pro_1.2.0_host1_20240301.log");
        std::fs::write(&path, error("IllegalStateException", 3).repeat(2)).unwrap();
        crate::index::index_files_for_test(&dir.path().join("data"), &[path]);
        reader.reload().unwrap();
        let after = counts(&reader);
        let illegal = |c: &(Vec<GroupSummary>, Vec<ValueCount>, Vec<(String, u64)>)| {
            c.0.iter()
                .find(|g| g.root_type.ends_with("IllegalStateException"))
                .unwrap()
                .count
        };
        assert_eq!(illegal(&after), 4);
        assert_eq!(
            after.1[0],
            ValueCount {
                value: "billing".into(),
                count: 4
            }
        );
        assert_eq!(after.2.iter().map(|b| b.1).sum::<u64>(), 5);

        // The arithmetic group deleted from its segment, which keeps its other event.
        let arithmetic = after
            .0
            .iter()
            .find(|g| g.root_type.ends_with("ArithmeticException"));
        let term = tantivy::Term::from_field_text(
            reader.fields().fingerprint,
            &arithmetic.unwrap().fingerprint,
        );
        let mut writer: tantivy::IndexWriter = reader.index().writer(15_000_000).unwrap();
        writer.delete_term(term);
        writer.commit().unwrap();
        reader.reload().unwrap();
        let deleted = counts(&reader);
        assert_eq!(deleted.0.len(), 1, "{:?}", deleted.0);
        assert!(
            reader
                .searcher()
                .segment_readers()
                .iter()
                .any(|r| r.num_deleted_docs() > 0),
            "a segment with a delete"
        );
        assert_eq!(illegal(&deleted), 4);
        let billing = ValueCount {
            value: "billing".into(),
            count: 3,
        };
        let orders = ValueCount {
            value: "orders".into(),
            count: 1,
        };
        assert_eq!(deleted.1, [billing, orders]);
        assert_eq!(deleted.2.iter().map(|b| b.1).sum::<u64>(), 4);
    }
}
