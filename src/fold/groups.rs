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
