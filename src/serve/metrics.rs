//! Prometheus metrics: requests, errors, query latency; events and commit age at scrape time.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

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
        Metrics {
            registry,
            requests,
            query_seconds,
        }
    }

    /// The metrics in Prometheus text format, with the gauges computed now.
    pub fn render(&self, events: u64, commit_age_seconds: Option<f64>) -> String {
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
        prometheus_client::encoding::text::encode_eof(&mut out).expect("writing to a String");
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}
