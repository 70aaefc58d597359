//! How far behind its files the edge is, and the endpoint that says so.
//!
//! A file's lag is the bytes of it not yet acknowledged by the central (decoded bytes for a
//! compressed file being read), and how long it has been behind: the time since it was last
//! fully shipped. Measured once a second on the tailer's thread from every file's position
//! and the positions the central acknowledged; logged every ten seconds while behind.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::os::unix::fs::MetadataExt;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use serde::Serialize;

use super::ShipStatus;
use crate::index::checkpoint::{Checkpoints, FileCheckpoint};

const MEASURE_EVERY: Duration = Duration::from_secs(1);
const LOG_EVERY: Duration = Duration::from_secs(10);

/// One file behind.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileLag {
    pub path: String,
    pub bytes: u64,
    pub seconds: f64,
}

/// Every file behind, and the totals.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LagReport {
    pub bytes: u64,
    /// The longest any file has been behind.
    pub seconds: f64,
    pub files: Vec<FileLag>,
}

/// When each file fell behind.
#[derive(Debug, Default)]
pub(super) struct Tracker {
    behind_since: HashMap<String, Instant>,
    last: Option<Instant>,
    last_log: Option<Instant>,
}

impl Tracker {
    pub fn due(&self, now: Instant) -> bool {
        self.last.is_none_or(|t| now - t >= MEASURE_EVERY)
    }

    /// The lag of every file in `checkpoints` given the `acked` positions.
    pub fn measure(
        &mut self,
        checkpoints: &Checkpoints,
        acked: &HashMap<String, u64>,
        now: Instant,
    ) -> LagReport {
        self.last = Some(now);
        let mut report = LagReport::default();
        for (key, cp) in &checkpoints.files {
            let shipped = acked.get(key).copied().unwrap_or(0);
            let bytes = behind(cp, shipped);
            if bytes == 0 {
                self.behind_since.remove(key);
                continue;
            }
            let since = *self.behind_since.entry(key.clone()).or_insert(now);
            let seconds = (now - since).as_secs_f64();
            report.bytes += bytes;
            report.seconds = report.seconds.max(seconds);
            report.files.push(FileLag {
                path: cp.path.clone(),
                bytes,
                seconds,
            });
        }
        self.behind_since
            .retain(|key, _| checkpoints.files.contains_key(key));
        if report.bytes > 0 && self.last_log.is_none_or(|t| now - t >= LOG_EVERY) {
            self.last_log = Some(now);
            tracing::info!(
                bytes = report.bytes,
                seconds = report.seconds as u64,
                files = report.files.len(),
                "behind the files"
            );
        }
        report
    }
}

/// Bytes of the file `cp` describes that are not acknowledged, `shipped` being acknowledged.
fn behind(cp: &FileCheckpoint, shipped: u64) -> u64 {
    if cp.complete && shipped >= cp.offset {
        return 0;
    }
    // The file at its path, if it is still this one: its size now.
    let on_disk = std::fs::metadata(&cp.path)
        .ok()
        .filter(|m| (m.dev(), m.ino()) == (cp.dev, cp.ino))
        .map(|m| m.len());
    let size = on_disk.unwrap_or(cp.size).max(cp.offset);
    size.saturating_sub(shipped)
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PathLabel {
    path: String,
}

/// Serves `GET /metrics` (Prometheus) and `GET /lag` (JSON) on `addr` from a thread of its
/// own, for as long as the process runs.
pub fn serve_metrics(addr: SocketAddr, status: ShipStatus) -> std::io::Result<()> {
    let listener = std::net::TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    std::thread::Builder::new()
        .name("stackfold-ship-metrics".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for the metrics endpoint");
            runtime.block_on(async move {
                let app = Router::new()
                    .route("/metrics", get(metrics))
                    .route("/lag", get(lag))
                    .with_state(status);
                let listener =
                    tokio::net::TcpListener::from_std(listener).expect("a listening socket");
                if let Err(err) = axum::serve(listener, app).await {
                    tracing::error!("metrics endpoint: {err}");
                }
            });
        })?;
    Ok(())
}

async fn lag(State(status): State<ShipStatus>) -> axum::Json<LagReport> {
    axum::Json(status.lag())
}

async fn metrics(State(status): State<ShipStatus>) -> String {
    render(&status.counts(), &status.lag())
}

fn render(counts: &super::ShipCounts, lag: &LagReport) -> String {
    let mut registry = Registry::with_prefix("stackfold_ship");
    let counter = |registry: &mut Registry, name: &str, help: &str, value: u64| {
        let c = Counter::<u64>::default();
        c.inc_by(value);
        registry.register(name, help, c);
    };
    counter(
        &mut registry,
        "batches",
        "Batches acknowledged",
        counts.batches_acked,
    );
    counter(
        &mut registry,
        "events",
        "Events acknowledged (stored, or already there)",
        counts.events_acked,
    );
    counter(
        &mut registry,
        "duplicate_events",
        "Events the central had already (sent again after a crash or a lost answer)",
        counts.events_duplicate,
    );
    counter(
        &mut registry,
        "rejected_events",
        "Events the central refused for good",
        counts.events_rejected,
    );
    counter(
        &mut registry,
        "retries",
        "Requests sent again",
        counts.retries,
    );
    counter(
        &mut registry,
        "bytes",
        "NDJSON bytes acknowledged, before compression",
        counts.bytes_acked,
    );
    let gauge = |registry: &mut Registry, name: &str, help: &str, value: i64| {
        let g = Gauge::<i64>::default();
        g.set(value);
        registry.register(name, help, g);
    };
    gauge(
        &mut registry,
        "connected",
        "Whether the central answered the last request",
        i64::from(counts.connected),
    );
    gauge(
        &mut registry,
        "lag_bytes",
        "Bytes of the files not yet acknowledged",
        lag.bytes as i64,
    );
    gauge(
        &mut registry,
        "lag_seconds",
        "Longest time a file has been behind",
        lag.seconds as i64,
    );
    let per_file = Family::<PathLabel, Gauge>::default();
    for file in &lag.files {
        per_file
            .get_or_create(&PathLabel {
                path: file.path.clone(),
            })
            .set(file.bytes as i64);
    }
    registry.register(
        "file_lag_bytes",
        "Bytes of each file behind, not yet acknowledged",
        per_file,
    );
    let mut out = String::new();
    prometheus_client::encoding::text::encode(&mut out, &registry).expect("writing to a String");
    out
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn a_file_is_behind_by_what_is_not_acknowledged_and_since_it_fell_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.log");
        std::fs::File::create(&path)
            .unwrap()
            .write_all(&[b'x'; 1000])
            .unwrap();
        let meta = std::fs::metadata(&path).unwrap();
        let mut cps = Checkpoints::default();
        cps.files.insert(
            "a".into(),
            FileCheckpoint {
                path: path.to_string_lossy().into_owned(),
                dev: meta.dev(),
                ino: meta.ino(),
                offset: 600,
                size: 600,
                ..FileCheckpoint::default()
            },
        );
        let mut tracker = Tracker::default();
        let start = Instant::now();
        let acked = HashMap::from([("a".to_owned(), 400)]);
        let report = tracker.measure(&cps, &acked, start);
        assert_eq!(report.bytes, 600, "1000 on disk, 400 acknowledged");
        let later = tracker.measure(&cps, &acked, start + Duration::from_secs(3));
        assert_eq!(later.seconds, 3.0);
        let text = render(&Default::default(), &later);
        assert!(text.contains("stackfold_ship_lag_bytes 600"), "{text}");
        assert!(text.contains("file_lag_bytes{path=\""), "{text}");
        let caught_up = HashMap::from([("a".to_owned(), 1000)]);
        assert_eq!(tracker.measure(&cps, &caught_up, start).bytes, 0);
    }
}
