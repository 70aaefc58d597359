//! Events newest first: one search, and cursor paging as deep as a client likes.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use tantivy::collector::{Count, TopDocs};
use tantivy::{DateTime, DocAddress, Order, Searcher};

use super::Reader;
use super::events::{EventReader, StoredEvent};
use super::filters::{Filters, QueryError};

/// Most events one search returns.
pub const MAX_LIMIT: usize = 10_000;

/// One page of search results, newest first.
#[derive(Debug, Clone, Serialize)]
pub struct SearchPage {
    /// Events, each with `snippet`: the matching part of its body as HTML, terms in `<b>`.
    pub hits: Vec<SearchHit>,
    /// How many events match in all.
    pub total: usize,
    /// Pass as `cursor` to get the next page; `None` on the last page.
    pub cursor: Option<String>,
}

/// One event of a search page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchHit {
    #[serde(flatten)]
    pub event: StoredEvent,
    /// The matching part of the event's body as HTML, matched terms in `<b>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snippet: Option<String>,
}

/// Above this many likely matches, [`Reader::newest`] searches time windows: below it,
/// sorting all matches takes less than a windowed attempt or two.
pub(super) const WINDOW_ABOVE_MATCHES: u64 = 500_000;
/// How many times `k` matches the first window would hold if matches were spread evenly:
/// logs are not (nights, bursts), and a second attempt costs more than a wider first one.
pub(super) const WINDOW_HOLDS: f64 = 32.0;
/// The narrowest first window: a millisecond.
const MIN_WINDOW_MICROS: i64 = 1_000;

/// At most how many events `query` can match: the document frequency of its rarest term
/// (exact for one term, an upper bound for a conjunction), or every event for a query
/// without terms.
fn estimated_matches(searcher: &Searcher, query: &dyn tantivy::query::Query) -> u64 {
    let mut rarest: Option<u64> = None;
    query.query_terms(&mut |term, _| {
        let freq = searcher.doc_freq(term).unwrap_or(0);
        rarest = Some(rarest.map_or(freq, |r| r.min(freq)));
    });
    rarest.unwrap_or_else(|| searcher.num_docs())
}

impl Reader {
    /// The times of the oldest and newest events, in microseconds, if any event has one.
    fn time_bounds(&self, searcher: &Searcher) -> Option<(i64, i64)> {
        let segments = searcher.segment_readers().iter();
        let live = segments.filter(|segment| segment.num_docs() > 0);
        let bounds = live.filter_map(|segment| self.aggregates.time_bounds(segment));
        bounds
            .map(|b| (b.lo, b.hi))
            .reduce(|(a, b), (lo, hi)| (a.min(lo), b.max(hi)))
    }

    /// The `limit` newest matching events (events without time come last).
    pub fn search(
        &self,
        text: &str,
        filters: &Filters,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, QueryError> {
        if limit == 0 || limit > MAX_LIMIT {
            return Err(QueryError::BadParameter(format!(
                "limit must be between 1 and {MAX_LIMIT}"
            )));
        }
        let searcher = self.searcher();
        let hits = self.newest(&searcher, text, filters, limit)?;
        let events = EventReader::new(&searcher, &self.fields, &self.columns);
        hits.into_iter()
            .map(|(_, address)| Ok(events.event(address)?))
            .collect()
    }

    /// The `k` newest matching events (those without time last).
    ///
    /// Sorting every match by time costs time in proportion to the matches: a phrase found
    /// in a million events takes tens of milliseconds. When a query may match that many
    /// (judged by the rarest of its terms), it first runs on a time window ending at the
    /// newest event, wide enough to hold about [`WINDOW_HOLDS`] × `k` matches if they were
    /// spread evenly, and the window grows sixteenfold until it holds `k` matches or covers
    /// the whole range. As every match outside a window is older than every match in it, the
    /// answer is the same.
    fn newest(
        &self,
        searcher: &Searcher,
        text: &str,
        filters: &Filters,
        k: usize,
    ) -> Result<Vec<(Option<DateTime>, DocAddress)>, QueryError> {
        let top = TopDocs::with_limit(k).order_by_fast_field::<DateTime>("ts", Order::Desc);
        let query = self.query(searcher, text, filters)?;
        if let Some((first, last)) = self.time_bounds(searcher) {
            let after_last = Timestamp::from_microsecond(last + 1).unwrap_or(Timestamp::MAX);
            let upper = filters.to.map_or(after_last, |to| to.min(after_last));
            let lower_bound = filters
                .from
                .map_or(first, |f| f.as_microsecond().max(first));
            // Matches spread evenly over the index's time span, counted in the range asked.
            let span = (last - first).max(1) as f64;
            let asked = (upper.as_microsecond() - lower_bound).max(0) as f64;
            let per_micro = estimated_matches(searcher, &*query) as f64 / span;
            let in_range = per_micro * asked;
            if in_range < self.window_above as f64 {
                return Ok(searcher.search(&*query, &top)?);
            }
            // Each attempt costs a pass over the time column: aim to need just one.
            let even = self.window_holds * k as f64 / per_micro;
            let mut width = (even as i64).max(MIN_WINDOW_MICROS);
            while let Some(lower) = upper.as_microsecond().checked_sub(width)
                && lower > lower_bound
            {
                let window = Filters {
                    from: Timestamp::from_microsecond(lower).ok(),
                    to: Some(upper),
                    ..filters.clone()
                };
                let hits = searcher.search(&*self.query(searcher, text, &window)?, &top)?;
                if hits.len() >= k {
                    return Ok(hits);
                }
                width = width.saturating_mul(16);
            }
        }
        Ok(searcher.search(&*query, &top)?)
    }

    /// One page of the matching events, newest first, after `cursor` (from a previous page),
    /// with the total and a snippet per event.
    pub fn search_page(
        &self,
        text: &str,
        filters: &Filters,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<SearchPage, QueryError> {
        let searcher = self.searcher();
        let (addresses, cursor) = self.page(&searcher, text, filters, limit, cursor)?;
        let query = self.query(&searcher, text, filters)?;
        let describe = |filters: &Filters| format!("count {text:?} {filters:?}");
        let total = self.aggregate(&searcher, &*query, filters, describe, Count)?;
        let snippets =
            tantivy::snippet::SnippetGenerator::create(&searcher, &*query, self.fields.body).ok();
        let events = EventReader::new(&searcher, &self.fields, &self.columns);
        let mut hits = Vec::with_capacity(addresses.len());
        for address in addresses {
            let event = events.event(address)?;
            let snippet = snippets
                .as_ref()
                .map(|generator| generator.snippet(&event.event.body()).to_html());
            hits.push(SearchHit { event, snippet });
        }
        Ok(SearchPage {
            hits,
            total,
            cursor,
        })
    }

    /// One page of the matching events as [`Reader::search_page`] pages them, without the
    /// total and snippets: what an export reads page after page, in memory bounded by
    /// `limit` (and by how many events share one microsecond).
    pub fn events_page(
        &self,
        text: &str,
        filters: &Filters,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<(Vec<StoredEvent>, Option<String>), QueryError> {
        let searcher = self.searcher();
        let (addresses, cursor) = self.page(&searcher, text, filters, limit, cursor)?;
        let events = EventReader::new(&searcher, &self.fields, &self.columns);
        let events = addresses
            .into_iter()
            .map(|address| events.event(address))
            .collect::<Result<_, _>>()?;
        Ok((events, cursor))
    }

    /// Where the events of a page are, and the cursor of the next page.
    fn page(
        &self,
        searcher: &Searcher,
        text: &str,
        filters: &Filters,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<(Vec<DocAddress>, Option<String>), QueryError> {
        if limit == 0 || limit > MAX_LIMIT {
            return Err(QueryError::BadParameter(format!(
                "limit must be between 1 and {MAX_LIMIT}"
            )));
        }
        let after = cursor.map(Cursor::parse).transpose()?;
        let mut page_filters = filters.clone();
        let mut skip = 0;
        match after {
            Some(Cursor::Timed { ts_us, seen }) => {
                let upper = ts_us
                    .checked_add(1)
                    .and_then(|us| Timestamp::from_microsecond(us).ok())
                    .ok_or_else(|| QueryError::BadParameter("cursor: time out of range".into()))?;
                page_filters.to = Some(page_filters.to.map_or(upper, |t| t.min(upper)));
                skip = seen;
            }
            Some(Cursor::Untimed { seen }) => {
                page_filters.untimed_only = true;
                skip = seen;
            }
            None => {}
        }
        let found = self.newest(searcher, text, &page_filters, limit + skip + 1)?;
        let mut hits_at: Vec<(Option<i64>, DocAddress)> = Vec::new();
        let mut skipped = 0;
        for (ts, address) in found {
            let ts = ts.map(|d| d.into_timestamp_micros());
            let at_cursor = match after {
                Some(Cursor::Timed { ts_us, .. }) => ts == Some(ts_us),
                Some(Cursor::Untimed { .. }) => true,
                None => false,
            };
            if at_cursor && skipped < skip {
                skipped += 1;
                continue;
            }
            hits_at.push((ts, address));
        }
        let more = hits_at.len() > limit;
        hits_at.truncate(limit);
        let next = if more {
            match hits_at.last() {
                Some((Some(last_ts), _)) => {
                    let same = hits_at.iter().filter(|(t, _)| *t == Some(*last_ts)).count();
                    let carried = match after {
                        Some(Cursor::Timed { ts_us, seen }) if ts_us == *last_ts => seen,
                        _ => 0,
                    };
                    Some(Cursor::Timed {
                        ts_us: *last_ts,
                        seen: same + carried,
                    })
                }
                Some((None, _)) => {
                    let untimed = hits_at.iter().filter(|(t, _)| t.is_none()).count();
                    let carried = match after {
                        Some(Cursor::Untimed { seen }) => seen,
                        _ => 0,
                    };
                    Some(Cursor::Untimed {
                        seen: untimed + carried,
                    })
                }
                None => None,
            }
        } else if matches!(after, Some(Cursor::Timed { .. })) {
            // The timed events are done; those without a time follow.
            let untimed = Filters {
                untimed_only: true,
                ..filters.clone()
            };
            let left = searcher.search(&*self.query(searcher, text, &untimed)?, &Count)?;
            (left > 0).then_some(Cursor::Untimed { seen: 0 })
        } else {
            None
        };
        let next = next.map(|c| c.to_string());
        Ok((
            hits_at.into_iter().map(|(_, address)| address).collect(),
            next,
        ))
    }
}

/// Where a page ended: the time of its last event and how many events at that exact time
/// were already returned, or how many of the events without time were (they come last).
/// Pages of one query are stable while the index does not change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cursor {
    Timed { ts_us: i64, seen: usize },
    Untimed { seen: usize },
}

/// Most events a cursor may say were returned at one time (or without time): a page after it
/// collects that many more hits, so a forged cursor of 10^12 asked for terabytes and aborted
/// the server. Paging that deep into events of one instant is not something a user does.
pub const MAX_CURSOR_SEEN: usize = 100_000;

impl Cursor {
    fn parse(text: &str) -> Result<Cursor, QueryError> {
        let bad =
            || QueryError::BadParameter(format!("cursor {text:?} is not one this server gave"));
        let seen = |s: &str| match s.parse::<usize>() {
            Ok(n) if n <= MAX_CURSOR_SEEN => Ok(n),
            _ => Err(bad()),
        };
        match text.split('_').collect::<Vec<_>>().as_slice() {
            ["t", ts, n] => Ok(Cursor::Timed {
                ts_us: ts.parse::<i64>().map_err(|_| bad())?,
                seen: seen(n)?,
            }),
            ["n", n] => Ok(Cursor::Untimed { seen: seen(n)? }),
            _ => Err(bad()),
        }
    }
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cursor::Timed { ts_us, seen } => write!(f, "t_{ts_us}_{seen}"),
            Cursor::Untimed { seen } => write!(f, "n_{seen}"),
        }
    }
}
