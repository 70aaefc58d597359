//! Exception groups: the list with exact counts and trends, and one group in full.

use serde::{Deserialize, Serialize};
use tantivy::schema::Value as _;
use tantivy::{DocAddress, Searcher, TantivyDocument};

use super::events::StoredEvent;
use super::filters::{Filters, QueryError};
use super::group_stats::{GroupCollector, GroupStats};
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
        let query = self.query(text, &filters)?;
        let mut collector = GroupCollector::default();
        if trend_buckets > 0 {
            let (lo, hi) = self.span(&searcher, &*query, &filters)?;
            let span = (hi - lo).max(1);
            collector = GroupCollector {
                from_us: lo,
                interval_us: (span + trend_buckets as i64 - 1) / trend_buckets as i64,
                buckets: trend_buckets,
            };
        }
        let stats = searcher.search(&*query, &collector)?;
        let mut groups: Vec<(String, GroupStats)> =
            stats.into_iter().filter(|(fp, _)| keep(fp)).collect();
        let last = |s: &GroupStats| s.last.map_or(i64::MIN, |l| l.0);
        let first = |s: &GroupStats| s.first.as_ref().map_or(i64::MIN, |f| f.0);
        groups.sort_by(|a, b| {
            let order = match sort {
                GroupSort::Count => b.1.count.cmp(&a.1.count),
                GroupSort::LastSeen => last(&b.1).cmp(&last(&a.1)),
                GroupSort::FirstSeen => first(&b.1).cmp(&first(&a.1)),
            };
            order.then_with(|| a.0.cmp(&b.0))
        });
        groups.truncate(limit);
        let groups = groups
            .into_iter()
            .map(|(fp, stats)| self.summary(&searcher, fp, stats))
            .collect::<Result<_, _>>()?;
        let trended = collector.buckets > 0;
        Ok(GroupList {
            groups,
            trend_from: trended.then(|| micros_to_string(collector.from_us)),
            trend_interval_seconds: trended.then(|| (collector.interval_us / 1_000_000).max(1)),
        })
    }

    fn summary(
        &self,
        searcher: &Searcher,
        fingerprint: String,
        stats: GroupStats,
    ) -> Result<GroupSummary, QueryError> {
        let exception = match stats.latest_doc {
            Some(address) => self.stored_exception(searcher, address)?,
            None => None,
        };
        let [apps, envs, hosts, tags] = stats.breakdowns.map(sorted_counts);
        Ok(GroupSummary {
            fingerprint,
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
            first_tag: stats.first.and_then(|f| f.1),
            apps,
            envs,
            hosts,
            tags,
            trend: stats.trend,
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
        let latest = match summary.latest {
            Some(address) => Some(self.event_at(&searcher, address)?),
            None => None,
        };
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

    /// The exception stored with the document at `address`, if it has one.
    fn stored_exception(
        &self,
        searcher: &Searcher,
        address: DocAddress,
    ) -> Result<Option<Exception>, QueryError> {
        let doc: TantivyDocument = searcher.doc(address)?;
        Ok(doc
            .get_first(self.fields.exception)
            .and_then(|v| v.as_str())
            .and_then(|json| serde_json::from_str(json).ok()))
    }
}
