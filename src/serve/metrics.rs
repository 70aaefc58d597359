//! Prometheus metrics: requests, errors, query latency; shipped documents, bytes, bulk
//! latency and refusals per input; events, commit age and open streams at scrape time.

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

/// One network input and what became of a shipped document.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DocumentLabel {
    /// `elasticsearch`.
    pub input: &'static str,
    /// `created`, `noop`, `conflict`, `refused` (a malformed item), `failed` (not committed).
    pub outcome: &'static str,
}

/// One network input.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct InputLabel {
    pub input: &'static str,
}

/// The server's metrics.
pub struct Metrics {
    registry: Registry,
    pub requests: Family<StatusLabel, Counter>,
    pub query_seconds: Histogram,
    /// Shipped documents by input and outcome.
    pub documents: Family<DocumentLabel, Counter>,
    /// Bytes of shipped requests as received (compressed or not), by input.
    pub bytes: Family<InputLabel, Counter>,
    /// Requests refused whole because the folding thread was behind (429), by input.
    pub throttled: Family<InputLabel, Counter>,
    /// Time from a bulk request's arrival to its answer (its commit included).
    pub bulk_seconds: Histogram,
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
        let documents = Family::<DocumentLabel, Counter>::default();
        registry.register(
            "ingest_documents",
            "Shipped documents by input and outcome",
            documents.clone(),
        );
        let bytes = Family::<InputLabel, Counter>::default();
        registry.register(
            "ingest_bytes",
            "Bytes of shipped requests as received",
            bytes.clone(),
        );
        let throttled = Family::<InputLabel, Counter>::default();
        registry.register(
            "ingest_throttled",
            "Requests answered 429 because indexing was behind",
            throttled.clone(),
        );
        let bulk_seconds = Histogram::new(exponential_buckets(0.001, 2.0, 16));
        registry.register(
            "ingest_bulk_seconds",
            "Time to answer a bulk request, its commit included",
            bulk_seconds.clone(),
        );
        Metrics {
            registry,
            requests,
            query_seconds,
            documents,
            bytes,
            throttled,
            bulk_seconds,
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
