//! Warming: the views a user opens first are computed before anyone asks for them.
//!
//! Per-segment answers are kept (see `query::cache`), but a server that has just started
//! holds none. On 11.2 M events the UI's first views each took 0.1–0.6 s to a first
//! visitor (search 204 ms, histogram 101, field values 278, exception list 249, pattern
//! list 626) and 1–25 ms afterwards. A task asks for those views whenever the index changed
//! (start, commits, merges): the first request after a restart or a merge is answered from
//! the cache, and a commit costs only its new segments. It asks through the API itself,
//! with the UI's defaults, so what it computes is what the UI's requests look up.

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use tower::ServiceExt;

use super::AppState;

/// The requests of the UI's first views, as the UI writes them (the search view, the
/// exception list, the pattern list), so an identical request in flight shares the answer.
pub const FIRST_VIEWS: &[&str] = &[
    "/api/search?q=",
    "/api/histogram?q=",
    "/api/fields?q=",
    "/api/exceptions?sort=count&status=unresolved&limit=100",
    "/api/patterns?level=WARN%2CERROR%2CFATAL&sort=count&limit=100&status=unresolved",
];

/// How often the index is checked for a change.
const CHECK_EVERY: Duration = Duration::from_secs(2);

/// Asks for [`FIRST_VIEWS`] now and after every change of the index, until the server stops.
pub async fn keep_warm(state: AppState) {
    let api = super::api_routes(&state).with_state(state.clone());
    let mut warmed = None;
    loop {
        let generation = state.reader.generation();
        if warmed != Some(generation) {
            warm(&api).await;
            warmed = Some(generation);
        }
        tokio::time::sleep(CHECK_EVERY).await;
    }
}

/// Asks `api` for each of [`FIRST_VIEWS`], one after the other (each takes a query turn as a
/// user's would); an answer that is an error is the next request's to report.
pub async fn warm(api: &Router) {
    for uri in FIRST_VIEWS {
        let request = Request::get(*uri)
            .body(Body::empty())
            .expect("a valid request");
        let Ok(response) = api.clone().oneshot(request).await;
        // Read to the end: the coalescing layer answers once the body is complete.
        let _ = axum::body::to_bytes(response.into_body(), usize::MAX).await;
    }
}
