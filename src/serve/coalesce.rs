//! Identical queries in flight at once are answered once.
//!
//! During an incident a team opens the same views: fifty clients asking the same eight
//! requests made fifty queries queue behind each other. A GET of a query endpoint whose URI and
//! credentials are those of one already running waits for that one's answer instead of
//! queueing a query of its own; the answer (status, headers, body) is shared. Requests differ
//! by their full URI, so a page, a filter or a cursor of its own is a query of its own; the
//! live stream is never shared.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::FutureExt;
use futures_util::future::{BoxFuture, Shared};

use super::AppState;

/// One answer, kept whole to be given to every request that waited for it.
#[derive(Clone)]
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

type Pending = Shared<BoxFuture<'static, Arc<Answer>>>;

/// The queries in flight, by key.
#[derive(Clone, Default)]
pub struct InFlight(Arc<Mutex<HashMap<String, Pending>>>);

/// The endpoints whose answers depend only on their URI (and the index as it is).
fn shareable(request: &Request) -> bool {
    let path = request.uri().path();
    request.method() == Method::GET
        && [
            "/api/search",
            "/api/histogram",
            "/api/fields",
            "/api/exceptions",
        ]
        .iter()
        .any(|p| path == *p || path.starts_with(&format!("{p}/")))
}

pub async fn coalesce(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if !shareable(&request) {
        return next.run(request).await;
    }
    let credentials = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let key = format!("{}\n{credentials}", request.uri());
    let pending = {
        let mut inflight = state.inflight.0.lock().unwrap_or_else(|e| e.into_inner());
        match inflight.get(&key) {
            Some(pending) => pending.clone(),
            None => {
                let gone = Leaves {
                    table: Arc::clone(&state.inflight.0),
                    key: key.clone(),
                };
                // A task of its own drives the query to its end, whether or not anyone still
                // waits: when every client had gone away, a query driven by its waiters
                // stayed in the table half done, holding the server's state, and the next
                // identical request got its expired time limit.
                let task = tokio::spawn(async move {
                    let _gone = gone;
                    Arc::new(answer(next.run(request).await).await)
                });
                let pending = async move {
                    task.await
                        .unwrap_or_else(|e| Arc::new(failed(format!("the query task: {e}"))))
                }
                .boxed()
                .shared();
                inflight.insert(key, pending.clone());
                pending
            }
        }
    };
    let answer = pending.await;
    let mut response = (answer.status, Body::from(answer.body.clone())).into_response();
    *response.headers_mut() = answer.headers.clone();
    response
}

/// Takes a query's entry out of the table when the query ends, however it ends.
struct Leaves {
    table: Arc<Mutex<HashMap<String, Pending>>>,
    key: String,
}

impl Drop for Leaves {
    fn drop(&mut self) {
        self.table
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.key);
    }
}

impl InFlight {
    /// Queries in flight now.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

fn failed(message: String) -> Answer {
    Answer {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        headers: HeaderMap::new(),
        body: Bytes::from(serde_json::json!({ "error": message }).to_string()),
    }
}

async fn answer(response: Response) -> Answer {
    let (parts, body) = response.into_parts();
    match axum::body::to_bytes(body, usize::MAX).await {
        Ok(body) => Answer {
            status: parts.status,
            headers: parts.headers,
            body,
        },
        Err(_) => failed("the answer could not be read".to_owned()),
    }
}
