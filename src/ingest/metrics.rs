//! What the network inputs count, for `/metrics`: documents by input and outcome, bytes as
//! received, requests refused because indexing was behind, and bulk latency.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// One network input and what became of a shipped document.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DocumentLabel {
    /// `elasticsearch`, `otlp`, `syslog`.
    pub input: &'static str,
    /// `created`, `noop`, `conflict`, `refused` (a malformed item), `failed` (not committed).
    pub outcome: &'static str,
}

/// One network input.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct InputLabel {
    pub input: &'static str,
}

/// The inputs' counters.
#[derive(Debug)]
pub struct IngestMetrics {
    /// Shipped documents by input and outcome.
    pub documents: Family<DocumentLabel, Counter>,
    /// Bytes of shipped requests as received (compressed or not), by input.
    pub bytes: Family<InputLabel, Counter>,
    /// Requests refused (429) or held back (syslog) because indexing was behind, by input.
    pub throttled: Family<InputLabel, Counter>,
    /// Time from a request's arrival to its answer (its commit included).
    pub bulk_seconds: Histogram,
}

impl Default for IngestMetrics {
    fn default() -> Self {
        IngestMetrics {
            documents: Family::default(),
            bytes: Family::default(),
            throttled: Family::default(),
            bulk_seconds: Histogram::new(exponential_buckets(0.001, 2.0, 16)),
        }
    }
}

impl IngestMetrics {
    /// Registers the counters in `registry`.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "ingest_documents",
            "Shipped documents by input and outcome",
            self.documents.clone(),
        );
        registry.register(
            "ingest_bytes",
            "Bytes of shipped requests as received",
            self.bytes.clone(),
        );
        registry.register(
            "ingest_throttled",
            "Requests answered 429, or syslog reads held back, because indexing was behind",
            self.throttled.clone(),
        );
        registry.register(
            "ingest_bulk_seconds",
            "Time to answer a bulk or OTLP request, its commit included",
            self.bulk_seconds.clone(),
        );
    }

    /// Counts `n` documents of `input` with `outcome`.
    pub fn count(&self, input: &'static str, outcome: &'static str, n: usize) {
        let label = DocumentLabel { input, outcome };
        self.documents.get_or_create(&label).inc_by(n as u64);
    }

    /// Counts `n` bytes received by `input`.
    pub fn received(&self, input: &'static str, n: usize) {
        self.bytes
            .get_or_create(&InputLabel { input })
            .inc_by(n as u64);
    }

    /// Counts a request of `input` held back because indexing was behind.
    pub fn throttle(&self, input: &'static str) {
        self.throttled.get_or_create(&InputLabel { input }).inc();
    }
}
