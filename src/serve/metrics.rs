//! Prometheus metrics: requests, errors, query latency; shipped documents, bytes, bulk
//! latency and refusals per input; events, commit age and open streams at scrape time.

use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::ingest::metrics::IngestMetrics;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabel {
    /// `2xx`, `4xx`, `5xx`.
    pub class: String,
}

/// The server's metrics.
pub struct Metrics {
    registry: Registry,
    pub requests: Family<StatusLabel, Counter>,
    pub query_seconds: Histogram,
    /// What the network inputs count.
    pub ingest: Arc<IngestMetrics>,
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("stackfold");
        let requests = Family::<StatusLabel, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests by status class",
            requests.clone(),
        );
        let query_seconds = Histogram::new(exponential_buckets(0.0005, 2.0, 16));
        registry.register(
            "query_seconds",
            "Time spent running index queries",
            query_seconds.clone(),
        );
        let ingest = Arc::new(IngestMetrics::default());
        ingest.register(&mut registry);
        Metrics {
            registry,
            requests,
            query_seconds,
            ingest,
        }
    }

    /// The metrics in Prometheus text format, with the gauges computed now (`open_streams`:
    /// shipped streams with an open event, when this server takes logs).
    pub fn render(
        &self,
        events: u64,
        commit_age_seconds: Option<f64>,
        open_streams: Option<usize>,
    ) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode_registry(&mut out, &self.registry)
            .expect("writing to a String");
        out.push_str(
            "# HELP stackfold_events Events in the index.\n# TYPE stackfold_events gauge\n",
        );
        out.push_str(&format!("stackfold_events {events}\n"));
        if let Some(age) = commit_age_seconds {
            out.push_str(
                "# HELP stackfold_commit_age_seconds Seconds since the index's last commit.\n",
            );
            out.push_str(&format!(
                "# TYPE stackfold_commit_age_seconds gauge\nstackfold_commit_age_seconds {age:.3}\n"
            ));
        }
        if let Some(open) = open_streams {
            out.push_str(
                "# HELP stackfold_ingest_open_streams Shipped streams with an open event.\n",
            );
            out.push_str(&format!(
                "# TYPE stackfold_ingest_open_streams gauge\nstackfold_ingest_open_streams {open}\n"
            ));
        }
        prometheus_client::encoding::text::encode_eof(&mut out).expect("writing to a String");
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}
