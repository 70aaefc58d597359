//! Exception groups counted exactly from a stream of events.

use std::collections::HashMap;

use jiff::Timestamp;
use serde::Serialize;

use crate::event::Event;

/// One group: every event with the same fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Group {
    pub fingerprint: String,
    pub count: u64,
    pub root_type: String,
    pub template: String,
    pub language: &'static str,
    /// `module.function` of the most recent in-app frame, if any frame is in-app.
    pub top_frame: Option<String>,
    #[serde(serialize_with = "ser_ts")]
    pub first_seen: Option<Timestamp>,
    #[serde(serialize_with = "ser_ts")]
    pub last_seen: Option<Timestamp>,
}

fn ser_ts<S: serde::Serializer>(ts: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
    match ts {
        Some(ts) => s.collect_str(ts),
        None => s.serialize_none(),
    }
}

/// Groups, keyed by fingerprint.
#[derive(Debug, Default)]
pub struct GroupTable {
    groups: HashMap<String, Group>,
}

impl GroupTable {
    /// Counts `event` into its group, if it holds an exception.
    pub fn add(&mut self, event: &Event) {
        let Some(exc) = &event.exception else {
            return;
        };
        let group = self
            .groups
            .entry(exc.fingerprint.clone())
            .or_insert_with(|| Group {
                fingerprint: exc.fingerprint.clone(),
                count: 0,
                root_type: exc.root_type.clone(),
                template: exc.template.clone(),
                language: exc.language.as_str(),
                top_frame: exc
                    .top_in_app_frame()
                    .map(|f| format!("{}.{}", f.module, f.function)),
                first_seen: event.ts,
                last_seen: event.ts,
            });
        group.count += 1;
        if let Some(ts) = event.ts {
            group.first_seen = Some(group.first_seen.map_or(ts, |t| t.min(ts)));
            if group.last_seen.is_none_or(|t| ts >= t) {
                group.last_seen = Some(ts);
                group.template = exc.template.clone();
            }
        }
    }

    /// The groups, most frequent first (ties by fingerprint, so the order is stable).
    pub fn sorted(self) -> Vec<Group> {
        let mut groups: Vec<Group> = self.groups.into_values().collect();
        groups.sort_by(|a, b| {
            b.count
                .cmp(&a.count)
                .then_with(|| a.fingerprint.cmp(&b.fingerprint))
        });
        groups
    }

    /// How many groups there are.
    pub fn len(&self) -> usize {
        self.groups.len()
    }

    /// Whether no exception was seen.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }
}

/// Most patterns a [`PatternTable`] keeps apart: events of further patterns are counted
/// together in [`PatternTable::overflow`], so memory stays bounded whatever the lines.
pub const MAX_PATTERNS: usize = 100_000;

/// One pattern and what its events add up to (`stackfold patterns`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PatternSummary {
    pub id: String,
    pub template: String,
    pub count: u64,
    #[serde(serialize_with = "ser_ts")]
    pub first_seen: Option<Timestamp>,
    #[serde(serialize_with = "ser_ts")]
    pub last_seen: Option<Timestamp>,
    /// Events per level (`none` for events without one).
    pub levels: std::collections::BTreeMap<String, u64>,
    pub apps: std::collections::BTreeMap<String, u64>,
    pub envs: std::collections::BTreeMap<String, u64>,
    pub hosts: std::collections::BTreeMap<String, u64>,
    pub tags: std::collections::BTreeMap<String, u64>,
    /// The message of the earliest event (read from files: the smallest message among events
    /// at that time, so that the example does not depend on the order events are read in).
    pub example: String,
    /// Events per trend bucket, from an index when asked for; empty otherwise.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub trend: Vec<u64>,
    /// The image tag of the earliest event (the example's).
    #[serde(skip)]
    pub first_tag: Option<String>,
    /// The triage status, over an index: `unresolved`, `resolved` or `ignored`, as for
    /// exception groups; absent over files, which have no triage.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// When a resolved pattern came back: the time of its first event since.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub regressed_at: Option<String>,
    /// The image tag of that event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub regressed_in: Option<String>,
}

/// Patterns counted exactly from a stream of events, at most [`MAX_PATTERNS`] of them.
#[derive(Debug, Default)]
pub struct PatternTable {
    patterns: HashMap<String, PatternSummary>,
    /// Events whose pattern came after the table was full.
    pub overflow: u64,
}

impl PatternTable {
    /// Counts `event` into its pattern, if it has one.
    pub fn add(&mut self, event: &Event) {
        let Some(pattern) = &event.pattern else {
            return;
        };
        if !self.patterns.contains_key(&pattern.id) && self.patterns.len() >= MAX_PATTERNS {
            self.overflow += 1;
            return;
        }
        let row = self
            .patterns
            .entry(pattern.id.clone())
            .or_insert_with(|| PatternSummary {
                id: pattern.id.clone(),
                template: pattern.template.clone(),
                count: 0,
                first_seen: event.ts,
                last_seen: event.ts,
                levels: Default::default(),
                apps: Default::default(),
                envs: Default::default(),
                hosts: Default::default(),
                tags: Default::default(),
                example: event.message.clone(),
                trend: Vec::new(),
                first_tag: event.source.meta.tag.clone(),
                status: None,
                regressed_at: None,
                regressed_in: None,
            });
        row.count += 1;
        let level = event.level.map_or("none", |l| l.as_str());
        *row.levels.entry(level.to_owned()).or_default() += 1;
        let meta = &event.source.meta;
        for (values, value) in [
            (&mut row.apps, &meta.app),
            (&mut row.envs, &meta.env),
            (&mut row.hosts, &meta.host),
            (&mut row.tags, &meta.tag),
        ] {
            if let Some(value) = value {
                *values.entry(value.clone()).or_default() += 1;
            }
        }
        if let Some(ts) = event.ts {
            let earlier = row.first_seen.is_none_or(|t| ts < t)
                || (row.first_seen == Some(ts) && event.message < row.example);
            if earlier {
                row.first_seen = Some(ts);
                row.example = event.message.clone();
                row.first_tag.clone_from(&meta.tag);
            }
            row.last_seen = Some(row.last_seen.map_or(ts, |t| t.max(ts)));
        }
    }

    /// The patterns, most frequent first (ties by id, so the order is stable).
    pub fn sorted(self) -> Vec<PatternSummary> {
        let mut patterns: Vec<PatternSummary> = self.patterns.into_values().collect();
        patterns.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.id.cmp(&b.id)));
        patterns
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Pattern;

    fn event(message: &str, minute: u32) -> Event {
        Event {
            ts: Some(format!("2024-03-01T10:{minute:02}:00Z").parse().unwrap()),
            level: Some(crate::event::Level::Warn),
            pattern: Some(crate::fold::pattern::pattern(message)),
            ..Event::sample(message)
        }
    }

    #[test]
    fn patterns_count_exactly_whatever_the_order() {
        let events = [
            event("worker 7 stopped", 5),
            event("disk 1 full", 1),
            event("worker 3 stopped", 2),
            event("worker 9 stopped", 9),
        ];
        let count = |order: &[usize]| {
            let mut table = PatternTable::default();
            for &i in order {
                table.add(&events[i]);
            }
            table.sorted()
        };
        let forward = count(&[0, 1, 2, 3]);
        assert_eq!(forward, count(&[3, 2, 1, 0]));
        assert_eq!(forward[0].template, "worker <num> stopped");
        assert_eq!(forward[0].count, 3);
        assert_eq!(
            forward[0].example, "worker 3 stopped",
            "the earliest event's"
        );
        assert_eq!(forward[0].levels["WARN"], 3);
        assert_eq!(forward[1].count, 1);
    }

    /// A million distinct lines: the table keeps its first [`MAX_PATTERNS`] patterns and
    /// counts the rest apart, so memory has a bound and no event goes uncounted.
    #[test]
    fn a_million_distinct_patterns_stay_under_the_cap() {
        let mut table = PatternTable::default();
        let mut one = event("x", 0);
        for i in 0..1_000_000u32 {
            one.pattern = Some(Pattern {
                id: format!("{i:016x}"),
                template: String::new(),
                custom: false,
            });
            table.add(&one);
        }
        assert_eq!(table.patterns.len(), MAX_PATTERNS);
        assert_eq!(table.overflow, 1_000_000 - MAX_PATTERNS as u64);
    }
}
