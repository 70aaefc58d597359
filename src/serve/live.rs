//! `GET /api/live`: the events indexed from now on that match a query, as Server-Sent
//! Events, like Kibana's and Loki's live tail.
//!
//! Every client polls the index (not the tailer), so the view works the same whether the
//! tailer runs in this process (`run`) or in another (`tail` beside `serve`). A poll costs
//! one fast-field read when nothing was committed, and one query over the new batches
//! (see `Fields::ingested`) when something was.
//!
//! Messages: `event` (one event as `/api/search` gives it, oldest first), `skipped` (more
//! matched in one poll than are sent: `{"skipped": N}`), `error` (a failed poll; the stream
//! goes on).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_util::Stream;
use serde::Serialize;

use super::AppState;
use super::api::{Params, blocking, params};
use super::error::ApiError;
use crate::query::Filters;

/// How often a client's stream looks for new commits.
pub const LIVE_POLL: Duration = Duration::from_millis(250);
/// Most events sent per poll; more are counted in a `skipped` message. A live view shows
/// a screen of recent lines, not a firehose.
pub const LIVE_BATCH: usize = 200;

struct Follow {
    state: AppState,
    text: String,
    filters: Filters,
    /// The last batch sent.
    seen: u64,
    queue: VecDeque<SseEvent>,
}

pub async fn live(
    State(state): State<AppState>,
    query: Result<Query<Params>, QueryRejection>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let p = params(query)?;
    let filters = p.filters()?;
    let text = p.text();
    // A bad query is a 400 now, not an error message in the stream later.
    let (t, f) = (text.clone(), filters.clone());
    let seen = blocking(&state, move |r| {
        r.count(&t, &f)?;
        r.last_ingested()
    })
    .await?;
    let follow = Follow {
        state,
        text,
        filters,
        seen,
        queue: VecDeque::new(),
    };
    let stream = futures_util::stream::unfold(follow, |mut follow| async move {
        loop {
            if let Some(message) = follow.queue.pop_front() {
                return Some((Ok(message), follow));
            }
            tokio::time::sleep(LIVE_POLL).await;
            follow.poll().await;
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

impl Follow {
    /// Queues what was committed since the last poll.
    async fn poll(&mut self) {
        let seen = self.seen;
        let (text, filters) = (self.text.clone(), self.filters.clone());
        let polled = blocking(&self.state, move |r| {
            let last = r.last_ingested()?;
            if last <= seen {
                return Ok((seen, Vec::new(), 0));
            }
            let filters = Filters {
                ingested: Some((seen, last)),
                ..filters
            };
            let events = r.search(&text, &filters, LIVE_BATCH)?;
            let total = r.count(&text, &filters)?;
            Ok((last, events, total))
        })
        .await;
        match polled {
            Ok((last, events, total)) => {
                self.seen = last;
                if total > events.len() {
                    let skipped = Skipped {
                        skipped: total - events.len(),
                    };
                    self.queue.push_back(message("skipped", &skipped));
                }
                for event in events.iter().rev() {
                    self.queue.push_back(message("event", event));
                }
            }
            Err(err) => {
                // The server is busy or the index broke: say so, and try again next poll.
                tracing::warn!("live poll: {err:?}");
                let error = PollFailed {
                    error: "the poll failed; retrying",
                };
                self.queue.push_back(message("error", &error));
            }
        }
    }
}

/// The `skipped` message: more matched in one poll than were sent.
#[derive(Serialize)]
struct Skipped {
    skipped: usize,
}

/// The `error` message: a poll failed, the stream goes on.
#[derive(Serialize)]
struct PollFailed {
    error: &'static str,
}

fn message(kind: &str, data: &impl Serialize) -> SseEvent {
    let json = serde_json::to_string(data).expect("live messages serialise");
    SseEvent::default().event(kind).data(json)
}
