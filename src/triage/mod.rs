//! Triage: each exception group's and each pattern's status as people set it (`unresolved`,
//! `resolved`, `ignored`), kept in an embedded database beside the index ([`store`]) so it
//! survives restarts and re-indexing (fingerprints and pattern ids do not change when the same
//! logs are indexed again). A record is keyed by the group's fingerprint (32 hex digits) or the
//! pattern's id (16), so the two never meet; what follows says "group" for either.
//!
//! In: status changes (`stackfold resolve|ignore|reopen`, `POST
//! /api/exceptions/{fingerprint}/status`) with who made them. Out: each group's status as of
//! now, computed when it is read from its record and the events indexed since:
//! - a **resolved** group with an event timestamped after it was resolved (and, when resolved
//!   "in release X", from a release later than X) reads as `unresolved`, **regressed** at that
//!   event's time, in its release; old logs indexed after the resolve do not reopen it;
//! - an **ignored** group reads as `unresolved` again once `until_count` more events came in,
//!   or once `until` has passed; without either it stays ignored.
//!
//! Durable: a change is on disk before it is acknowledged. Reading writes nothing.

pub mod alerts;
pub mod rules;
pub mod store;

use std::cmp::Ordering;
use std::collections::HashMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

pub use store::Store;

use crate::fold::groups::PatternSummary;
use crate::query::{Filters, GroupList, GroupSort, GroupSummary, PatternList, QueryError, Reader};

/// A group's triage status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Unresolved,
    Resolved,
    Ignored,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Unresolved => "unresolved",
            Status::Resolved => "resolved",
            Status::Ignored => "ignored",
        }
    }
}

impl std::str::FromStr for Status {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "unresolved" => Ok(Status::Unresolved),
            "resolved" => Ok(Status::Resolved),
            "ignored" => Ok(Status::Ignored),
            other => Err(format!(
                "status {other:?}: use unresolved, resolved or ignored"
            )),
        }
    }
}

/// Which groups a listing shows: one status, or all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StatusFilter {
    /// What needs work: the default of the list.
    #[default]
    Unresolved,
    Resolved,
    Ignored,
    All,
}

impl StatusFilter {
    fn admits(self, status: Status) -> bool {
        match self {
            StatusFilter::All => true,
            StatusFilter::Unresolved => status == Status::Unresolved,
            StatusFilter::Resolved => status == Status::Resolved,
            StatusFilter::Ignored => status == Status::Ignored,
        }
    }
}

impl std::str::FromStr for StatusFilter {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "unresolved" => Ok(StatusFilter::Unresolved),
            "resolved" => Ok(StatusFilter::Resolved),
            "ignored" => Ok(StatusFilter::Ignored),
            "all" => Ok(StatusFilter::All),
            other => Err(format!(
                "status {other:?}: use unresolved, resolved, ignored or all"
            )),
        }
    }
}

/// A change of status as asked: `{"status", "in_release"?, "until_count"?, "until"?}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Change {
    pub status: Status,
    /// With `resolved`: only events of a later release reopen the group.
    #[serde(default)]
    pub in_release: Option<String>,
    /// With `ignored`: ignored until this many more events came in.
    #[serde(default)]
    pub until_count: Option<u64>,
    /// With `ignored`: ignored until this time.
    #[serde(default)]
    pub until: Option<Timestamp>,
}

impl Change {
    /// Why the change is not one that can be made, if it is not.
    pub fn problem(&self) -> Option<String> {
        let release_ok = self.in_release.is_none() || self.status == Status::Resolved;
        let until_ok =
            (self.until_count.is_none() && self.until.is_none()) || self.status == Status::Ignored;
        if !release_ok {
            return Some("in_release goes with status resolved".into());
        }
        if !until_ok {
            return Some("until_count and until go with status ignored".into());
        }
        if self.until_count == Some(0) {
            return Some("until_count must be at least 1".into());
        }
        if self.in_release.as_deref() == Some("") {
            return Some("in_release must not be empty".into());
        }
        None
    }
}

/// A group's status as set, with who set it and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub fingerprint: String,
    pub status: Status,
    pub in_release: Option<String>,
    pub until_count: Option<u64>,
    pub until: Option<Timestamp>,
    /// When it was set.
    pub at: Timestamp,
    /// Who set it: the authenticated user, or the CLI's user.
    pub by: String,
}

/// A group's status as of now (see the module's rules).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Triaged {
    pub status: Status,
    pub regressed_at: Option<String>,
    pub regressed_in: Option<String>,
}

/// The status as of `now` of the group `record` is about.
pub fn status_of(reader: &Reader, record: &Record, now: Timestamp) -> Result<Triaged, QueryError> {
    let plain = |status| Triaged {
        status,
        regressed_at: None,
        regressed_in: None,
    };
    match record.status {
        Status::Unresolved => Ok(plain(Status::Unresolved)),
        Status::Ignored => {
            if record.until.is_some_and(|until| until <= now) {
                return Ok(plain(Status::Unresolved));
            }
            if let Some(limit) = record.until_count {
                let since = since(reader, record, &[])?;
                if since.is_some_and(|g| g.count >= limit) {
                    return Ok(plain(Status::Unresolved));
                }
            }
            Ok(plain(Status::Ignored))
        }
        Status::Resolved => {
            let Some(mut came_back) = since(reader, record, &[])? else {
                return Ok(plain(Status::Resolved));
            };
            if let Some(release) = &record.in_release {
                let later: Vec<String> = came_back
                    .tags
                    .iter()
                    .filter(|tag| compare_releases(tag, release) == Ordering::Greater)
                    .cloned()
                    .collect();
                if later.is_empty() {
                    return Ok(plain(Status::Resolved));
                }
                match since(reader, record, &later)? {
                    Some(group) => came_back = group,
                    None => return Ok(plain(Status::Resolved)),
                }
            }
            Ok(Triaged {
                status: Status::Unresolved,
                regressed_at: came_back.first_seen,
                regressed_in: came_back.first_tag,
            })
        }
    }
}

/// What came in for a group after its record was set.
struct CameBack {
    count: u64,
    tags: Vec<String>,
    first_seen: Option<String>,
    first_tag: Option<String>,
}

/// Whether `key` is a pattern's id rather than a group's fingerprint.
pub fn is_pattern_id(key: &str) -> bool {
    key.len() == 16
}

/// The group's events timestamped after its record was set (of the releases
/// `tags`, when given), as one summary; `None` when there are none.
fn since(
    reader: &Reader,
    record: &Record,
    tags: &[String],
) -> Result<Option<CameBack>, QueryError> {
    // By the events' own time, not their batch of ingest: a batch is numbered when the one
    // before it is committed, so an event indexed just after a resolve may carry a number
    // from before it; and logs of the past indexed late are not news.
    let key = record.fingerprint.clone();
    let mut filters = Filters {
        from: Some(record.at),
        tag: tags.to_vec(),
        ..Filters::default()
    };
    if is_pattern_id(&key) {
        filters.pattern = vec![key];
        let list = reader.pattern_list("", &filters, GroupSort::Count, 1, 0)?;
        return Ok(list.patterns.into_iter().next().map(|p| CameBack {
            count: p.count,
            tags: p.tags.keys().cloned().collect(),
            first_seen: p.first_seen.map(|t| t.to_string()),
            first_tag: p.first_tag,
        }));
    }
    filters.fingerprint = vec![key];
    Ok(reader
        .groups("", &filters)?
        .into_iter()
        .next()
        .map(|g| CameBack {
            count: g.count,
            tags: g.tags.into_iter().map(|t| t.value).collect(),
            first_seen: g.first_seen,
            first_tag: g.first_tag,
        }))
}

/// The statuses as of now of the patterns' records among `records`, or of the groups'.
fn statuses_of(
    reader: &Reader,
    records: &HashMap<String, Record>,
    patterns: bool,
) -> Result<HashMap<String, Triaged>, QueryError> {
    let now = Timestamp::now();
    records
        .iter()
        .filter(|(key, _)| is_pattern_id(key) == patterns)
        .map(|(key, record)| Ok((key.clone(), status_of(reader, record, now)?)))
        .collect()
}

/// [`group_list`] for patterns: the patterns whose status `status` admits, each with its
/// status.
pub fn pattern_list(
    reader: &Reader,
    records: &HashMap<String, Record>,
    query: GroupQuery<'_>,
) -> Result<PatternList, QueryError> {
    let statuses = statuses_of(reader, records, true)?;
    let status = |id: &str| statuses.get(id).map_or(Status::Unresolved, |t| t.status);
    let mut list = reader.pattern_list_where(
        query.text,
        query.filters,
        query.sort,
        query.limit,
        query.trend_buckets,
        |id| query.status.admits(status(id)),
    )?;
    for pattern in &mut list.patterns {
        annotate_pattern(pattern, statuses.get(&pattern.id));
    }
    Ok(list)
}

/// Sets the triage fields of `pattern`: `unresolved` when nobody triaged it.
pub fn annotate_pattern(pattern: &mut PatternSummary, triaged: Option<&Triaged>) {
    let status = triaged.map_or(Status::Unresolved, |t| t.status);
    pattern.status = Some(status.as_str().to_owned());
    pattern.regressed_at = triaged.and_then(|t| t.regressed_at.clone());
    pattern.regressed_in = triaged.and_then(|t| t.regressed_in.clone());
}

/// The groups of the matching events whose status `query.status` admits (their `records`
/// from [`Store::records`]), in `sort` order, at most
/// `limit` (chosen after the status, so a page is never short of groups that need work),
/// each with its status.
pub fn group_list(
    reader: &Reader,
    records: &HashMap<String, Record>,
    query: GroupQuery<'_>,
) -> Result<GroupList, QueryError> {
    let statuses = statuses_of(reader, records, false)?;
    let status = |fp: &str| statuses.get(fp).map_or(Status::Unresolved, |t| t.status);
    let mut list = reader.group_list_where(
        query.text,
        query.filters,
        query.sort,
        query.limit,
        query.trend_buckets,
        |fp| query.status.admits(status(fp)),
    )?;
    for group in &mut list.groups {
        if let Some(triaged) = statuses.get(&group.fingerprint) {
            annotate(group, triaged);
        }
    }
    Ok(list)
}

/// What a group listing asks for (see [`Reader::group_list`]).
pub struct GroupQuery<'a> {
    pub text: &'a str,
    pub filters: &'a Filters,
    pub sort: GroupSort,
    pub limit: usize,
    pub trend_buckets: usize,
    pub status: StatusFilter,
}

/// Sets the triage fields of `group`.
pub fn annotate(group: &mut GroupSummary, triaged: &Triaged) {
    group.status = triaged.status.as_str().to_owned();
    group.regressed_at.clone_from(&triaged.regressed_at);
    group.regressed_in.clone_from(&triaged.regressed_in);
}

/// Orders release names (image tags) as people number them: runs of digits by their value,
/// the rest as text, so `1.10.0` comes after `1.9.2` and `v2` after `v1`.
pub fn compare_releases(a: &str, b: &str) -> Ordering {
    let mut a = runs(a);
    let mut b = runs(b);
    loop {
        match (a.next(), b.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => {
                let order = match (x.parse::<u128>(), y.parse::<u128>()) {
                    (Ok(x), Ok(y)) => x.cmp(&y),
                    _ => x.cmp(y),
                };
                if order != Ordering::Equal {
                    return order;
                }
            }
        }
    }
}

/// `1.10.0-rc1` → `1`, `.`, `10`, `.`, `0`, `-rc`, `1`.
fn runs(s: &str) -> impl Iterator<Item = &str> {
    let mut rest = s;
    std::iter::from_fn(move || {
        let first = rest.chars().next()?;
        let digit = first.is_ascii_digit();
        let end = rest
            .find(|c: char| c.is_ascii_digit() != digit)
            .unwrap_or(rest.len());
        let (run, tail) = rest.split_at(end);
        rest = tail;
        Some(run)
    })
}

#[cfg(test)]
mod tests;
