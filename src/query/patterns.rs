//! Patterns of the indexed events without a trace: the list with exact counts, breakdowns and
//! trends, and one pattern with its histogram and newest events. Counted as exception groups
//! are (see [`super::groups`]), by the `pattern` fast field instead of the fingerprint.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use tantivy::Searcher;

use super::Reader;
use super::events::StoredEvent;
use super::filters::{Filters, QueryError};
use super::group_stats::PATTERN;
use super::groups::{GroupSort, Order, Ranked};
use super::histogram::Histogram;
pub use crate::fold::groups::PatternSummary;

/// Patterns with the trend buckets their `trend` series count: `GET /api/patterns`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PatternList {
    pub patterns: Vec<PatternSummary>,
    /// Start of the first trend bucket.
    pub trend_from: Option<String>,
    pub trend_interval_seconds: Option<i64>,
}

/// One pattern in full: `GET /api/patterns/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PatternDetail {
    #[serde(flatten)]
    pub summary: PatternSummary,
    pub histogram: Histogram,
    /// The newest events of the pattern.
    pub samples: Vec<StoredEvent>,
}

impl Reader {
    /// The patterns of the matching events in `sort` order, at most `limit`, each with a
    /// trend of `trend_buckets` buckets over the matching events' time span (none if 0).
    pub fn pattern_list(
        &self,
        text: &str,
        filters: &Filters,
        sort: GroupSort,
        limit: usize,
        trend_buckets: usize,
    ) -> Result<PatternList, QueryError> {
        self.pattern_list_where(text, filters, sort, limit, trend_buckets, |_| true)
    }

    /// [`Reader::pattern_list`] of the patterns whose id `keep` accepts, chosen before the
    /// limit applies (a triage status).
    pub fn pattern_list_where(
        &self,
        text: &str,
        filters: &Filters,
        sort: GroupSort,
        limit: usize,
        trend_buckets: usize,
        keep: impl Fn(&str) -> bool,
    ) -> Result<PatternList, QueryError> {
        let order = Order {
            sort,
            limit,
            trend_buckets,
        };
        let searcher = self.searcher();
        let ranking = self.rank(&searcher, PATTERN, text, filters, order, keep)?;
        let patterns = ranking
            .rows
            .into_iter()
            .map(|row| self.pattern_summary(&searcher, row))
            .collect::<Result<_, _>>()?;
        Ok(PatternList {
            patterns,
            trend_from: ranking.trend_from,
            trend_interval_seconds: ranking.trend_interval_seconds,
        })
    }

    /// The pattern `id` among the matching events, with `samples` newest events.
    pub fn pattern(
        &self,
        id: &str,
        filters: &Filters,
        samples: usize,
    ) -> Result<Option<PatternDetail>, QueryError> {
        let filters = filters.clone().with_keys(PATTERN, vec![id.to_owned()]);
        let list = self.pattern_list("", &filters, GroupSort::Count, 1, 0)?;
        let Some(summary) = list.patterns.into_iter().next() else {
            return Ok(None);
        };
        let histogram = self.histogram("", &filters, None)?;
        let samples = self.search("", &filters, samples.max(1))?;
        Ok(Some(PatternDetail {
            summary,
            histogram,
            samples,
        }))
    }

    /// A ranked pattern as listed: its template and example from its earliest event (the
    /// latest when none has a time), its breakdowns by value.
    fn pattern_summary(
        &self,
        searcher: &Searcher,
        row: Ranked,
    ) -> Result<PatternSummary, QueryError> {
        let Ranked {
            name, stats, page, ..
        } = row;
        let example = (stats.first.map(|f| f.1).or(stats.latest_doc))
            .map(|address| self.event_at(searcher, address))
            .transpose()?;
        let template = example
            .as_ref()
            .and_then(|e| e.event.pattern.as_ref())
            .map(|p| p.template.clone())
            .unwrap_or_default();
        let sorted = |map: HashMap<String, u64>| map.into_iter().collect::<BTreeMap<_, _>>();
        let mut breakdowns = page.breakdowns.into_iter().map(sorted);
        let mut next = || breakdowns.next().unwrap_or_default();
        let mut levels = next();
        let leveled: u64 = levels.values().sum();
        if leveled < stats.count {
            levels.insert("none".to_owned(), stats.count - leveled);
        }
        let seen = |us: i64| jiff::Timestamp::from_microsecond(us).ok();
        Ok(PatternSummary {
            id: name,
            template,
            count: stats.count,
            first_seen: stats.first.and_then(|f| seen(f.0)),
            last_seen: stats.last.and_then(|l| seen(l.0)),
            levels,
            apps: next(),
            envs: next(),
            hosts: next(),
            tags: next(),
            first_tag: example.as_ref().and_then(|e| e.event.meta.tag.clone()),
            example: example
                .map(|e| e.event.message.into_owned())
                .unwrap_or_default(),
            trend: page.trend,
            status: None,
            regressed_at: None,
            regressed_in: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::fold::groups::PatternTable;

    /// Lines of three patterns over two levels, at `hour`, some without a time.
    fn lines(hour: u32, users: &[&str]) -> String {
        let mut text = String::new();
        for (i, user) in users.iter().enumerate() {
            text += &format!(
                "2024-03-01 {hour:02}:{i:02}:00,000 WARN [main] c.a.Auth - user {user} login failed from 10.0.0.{i}\n\
                 2024-03-01 {hour:02}:{i:02}:30,000 ERROR [main] c.a.Db - Connection refused to 10.0.3.{i}:5432 after {i} ms\n"
            );
        }
        text
    }

    fn files(dir: &std::path::Path) -> Vec<PathBuf> {
        let files = [
            (
                "app_auth_pro_1.0.0_host1_20240301.log",
                lines(9, &["u1", "u2", "u3"]),
            ),
            ("app_auth_dev_1.1.0_host2_20240301.log", lines(11, &["u4"])),
            (
                "app_db_pro_1.0.0_host1_20240301.log",
                lines(10, &["u5", "u6"]),
            ),
            ("worker.log", "plain line, no header 42\n".into()),
        ];
        files
            .iter()
            .map(|(name, text)| {
                let path = dir.join(name);
                std::fs::write(&path, text).unwrap();
                path
            })
            .collect()
    }

    #[test]
    fn the_index_counts_what_reading_the_files_counts() {
        let dir = tempfile::tempdir().unwrap();
        let paths = files(dir.path());
        let data = dir.path().join("data");
        crate::index::index_files_for_test(&data, &paths);
        let reader = Reader::open(&data).unwrap();

        let settings = crate::config::ConfigFile::default()
            .settings(Some("UTC"), 1, 2020)
            .unwrap();
        let mut table = PatternTable::default();
        for path in &paths {
            for event in crate::pipeline::collect_file(path.clone(), &settings).0 {
                table.add(&event);
            }
        }
        let from_files = table.sorted();
        assert_eq!(from_files.len(), 3, "{from_files:#?}");

        let everything = Filters::default();
        let list = reader
            .pattern_list("", &everything, GroupSort::Count, usize::MAX, 0)
            .unwrap();
        let without_examples = |p: &PatternSummary| PatternSummary {
            example: String::new(),
            trend: Vec::new(),
            ..p.clone()
        };
        let indexed: Vec<_> = list.patterns.iter().map(without_examples).collect();
        let read: Vec<_> = from_files.iter().map(without_examples).collect();
        assert_eq!(indexed, read);
        let login = list
            .patterns
            .iter()
            .find(|p| p.template.contains("login failed"))
            .unwrap();
        assert_eq!(login.count, 6);
        assert_eq!(login.example, "user u1 login failed from 10.0.0.0");
        assert_eq!(login.envs["pro"], 5);
        assert_eq!(login.levels, BTreeMap::from([("WARN".to_owned(), 6)]));

        // A page of one: the same pattern, its trend over 9:00 to 11:00 in three buckets.
        let top = reader
            .pattern_list("", &everything, GroupSort::LastSeen, 1, 3)
            .unwrap();
        let first = &top.patterns[0];
        assert!(
            first.template.starts_with("Connection refused"),
            "{first:?}"
        );
        assert_eq!(first.trend, [3, 2, 1]);
        assert_eq!(
            PatternSummary {
                trend: Vec::new(),
                ..first.clone()
            },
            list.patterns
                .iter()
                .find(|p| p.id == first.id)
                .unwrap()
                .clone()
        );

        // The pattern as a query field and as a filter find its events, and only them.
        let hits = reader
            .search(&format!("pattern:{}", login.id), &everything, 100)
            .unwrap();
        assert_eq!(hits.len(), 6);
        let by_filter = Filters {
            pattern: vec![login.id.clone()],
            level: vec!["WARN".into()],
            ..Filters::default()
        };
        let filtered = reader.search("", &by_filter, 100).unwrap();
        assert_eq!(filtered.len(), 6);
        assert!(
            filtered
                .iter()
                .all(|e| { e.event.pattern.as_ref().map(|p| &p.id) == Some(&login.id) })
        );

        // Levels narrow the patterns; others leave no pattern.
        let errors = Filters {
            level: vec!["ERROR".into()],
            ..Filters::default()
        };
        let listed = reader
            .pattern_list("", &errors, GroupSort::Count, 10, 0)
            .unwrap();
        assert_eq!(listed.patterns.len(), 1);
        assert_eq!(listed.patterns[0].count, 6);
    }

    /// A template pinned in the config is what the index shows, though a reader has no config.
    #[test]
    fn a_pinned_template_is_kept_by_the_index() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app_auth_pro_1.0.0_host1_20240301.log");
        std::fs::write(&path, lines(9, &["alice", "bob"])).unwrap();
        let config = "[patterns]\npinned = [\"user <*> login failed from <*>\"]\n";
        let settings = crate::config::ConfigFile::parse(config)
            .unwrap()
            .settings(Some("UTC"), 1, 2020)
            .unwrap();
        let data = dir.path().join("data");
        let (index, fields) = crate::index::open_or_create(&data).unwrap();
        let mut writer = crate::index::EventWriter::open(&index, fields, 32 << 20, 1).unwrap();
        for event in crate::pipeline::collect_file(path.clone(), &settings).0 {
            writer.add(&crate::index::file_key(&path), event).unwrap();
        }
        writer.commit().unwrap();
        let reader = Reader::open(&data).unwrap();
        let list = reader
            .pattern_list("", &Filters::default(), GroupSort::Count, 10, 0)
            .unwrap();
        let pinned = list
            .patterns
            .iter()
            .find(|p| p.template == "user <*> login failed from <*>")
            .unwrap_or_else(|| panic!("{list:#?}"));
        assert_eq!(pinned.count, 2);
        let events = reader
            .search(&format!("pattern:{}", pinned.id), &Filters::default(), 10)
            .unwrap();
        assert_eq!(events.len(), 2);
        let shown = events[0].event.pattern.as_deref().unwrap();
        assert_eq!(shown.template, pinned.template);
        assert_eq!(shown.id, pinned.id);
    }

    #[test]
    fn one_pattern_with_its_histogram_and_newest_events() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        crate::index::index_files_for_test(&data, &files(dir.path()));
        let reader = Reader::open(&data).unwrap();
        let list = reader
            .pattern_list("", &Filters::default(), GroupSort::Count, 10, 0)
            .unwrap();
        let untimed = list
            .patterns
            .iter()
            .find(|p| p.first_seen.is_none())
            .expect("the headerless lines' pattern");
        assert_eq!(untimed.count, 1);
        assert_eq!(untimed.template, "plain line, no header <num>");
        assert_eq!(untimed.example, "plain line, no header 42");

        let login = list
            .patterns
            .iter()
            .find(|p| p.template.contains("login"))
            .unwrap();
        let detail = reader
            .pattern(&login.id, &Filters::default(), 4)
            .unwrap()
            .unwrap();
        assert_eq!(detail.summary.count, 6);
        assert_eq!(detail.histogram.buckets.iter().map(|b| b.1).sum::<u64>(), 6);
        assert_eq!(detail.samples.len(), 4);
        assert!(detail.samples[0].event.message.starts_with("user u4"));
        assert!(
            reader
                .pattern("0000000000000000", &Filters::default(), 4)
                .unwrap()
                .is_none()
        );
    }
}
