//! Network inputs: logs that shippers send, folded on the server and indexed through the one
//! sink (`index::Ingest`), exactly once.
//!
//! In: documents as shippers send them (`es`: Elasticsearch's `_bulk`), read by `mapping`
//! into text, a stream and the fields the shipper parsed. Out: events, folded per stream by
//! `streams` on one thread that owns the index writer. What is durable when it answers: a
//! request is answered only after the commit that holds its documents, as events or as their
//! stream's open lines (both are in the commit); a retried document with a known `_id` is not
//! taken again. When the folding thread is behind (more than [`QUEUE_BYTES`] of requests
//! waiting), requests are refused with 429 at once rather than queued without bound.

pub mod edge;
pub mod es;
pub mod mapping;
pub mod metrics;
pub mod otlp;
pub mod streams;
pub mod syslog;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;

use crossbeam_channel::{Sender, TrySendError, bounded};

use crate::error::Result;
use crate::index::EventWriter;
use crate::pipeline::PipelineSettings;
use crate::tail::{TailCounters, Tailer};
pub use streams::{Batch, Body, Doc, Outcome, Sink, StreamSettings, Streams};

/// Largest request body, decompressed: Elasticsearch's default `http.max_content_length`.
/// Shippers cut their batches well below it (Filebeat 50 MB, Logstash 20 MB, Vector 10 MB).
pub const MAX_BULK_BYTES: usize = 100 << 20;

/// Bytes of requests accepted but not yet folded, above which requests get a 429: the
/// memory the queue may hold, a few large bulks' worth.
pub const QUEUE_BYTES: usize = 256 << 20;

/// Requests waiting for the folding thread, whatever their size.
const QUEUE_REQUESTS: usize = 64;

/// Indexing memory of the folding thread's writer.
const HEAP_BYTES: usize = 64 << 20;

/// The folding thread: joined, it gives what its tailer did (`run`), or nothing (`serve`).
pub type Folding = JoinHandle<Result<Option<TailCounters>>>;

/// Why a batch was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// The folding thread is behind: try again later (429).
    #[error("too many requests waiting to be indexed; retry later")]
    Busy,
    /// The folding thread stopped (the server is shutting down, or its index failed).
    #[error("this server is not taking logs now")]
    Stopped,
}

/// Where the server's handlers send documents; cheap to clone.
#[derive(Clone)]
pub struct Inlet {
    batches: Sender<Batch>,
    queued: Arc<AtomicUsize>,
    open: Arc<AtomicUsize>,
}

impl Inlet {
    /// Starts the folding thread on the index under `data`. Fails when another process
    /// writes that index (a `tail` beside this server): the caller serves without inputs.
    pub fn start(
        data: &Path,
        pipeline: Arc<PipelineSettings>,
        settings: StreamSettings,
    ) -> Result<(Inlet, Folding)> {
        let (index, fields) = crate::index::open_or_create(data)?;
        // One indexing thread: each thread writes a segment of its own at every commit, and
        // shippers' requests each cost a commit (two threads made the crash test of
        // tests/ingest.rs, 374 small bulks, 2.7× slower).
        let writer = EventWriter::open(&index, fields.clone(), HEAP_BYTES, 1)?.with_stores(data)?;
        let never = Arc::new(AtomicBool::new(false));
        Self::spawn(Sink::own(writer), data, pipeline, settings, never)
    }

    /// Starts the folding thread with `tailer` on it, writing through the tailer's sink
    /// (`run`: followed files and shipped logs in one index); it stops when `stop` is set,
    /// and a failing tailer stops it.
    pub fn start_with_tailer(
        data: &Path,
        tailer: Tailer,
        pipeline: Arc<PipelineSettings>,
        settings: StreamSettings,
        stop: Arc<AtomicBool>,
    ) -> Result<(Inlet, Folding)> {
        Self::spawn(Sink::Tail(Box::new(tailer)), data, pipeline, settings, stop)
    }

    fn spawn(
        sink: Sink,
        data: &Path,
        pipeline: Arc<PipelineSettings>,
        settings: StreamSettings,
        stop: Arc<AtomicBool>,
    ) -> Result<(Inlet, Folding)> {
        let (index, fields) = crate::index::open_or_create(data)?;
        let open = Arc::new(AtomicUsize::new(0));
        let streams = Streams::new(sink, &index, fields, pipeline, settings)?
            .counting_open(Arc::clone(&open));
        let (tx, rx) = bounded(QUEUE_REQUESTS);
        let thread = std::thread::Builder::new()
            .name("stackfold-ingest".into())
            .spawn(move || {
                let result = streams.run(rx, &stop);
                // A folding thread that ends (its tailer failed) stops whoever runs with it.
                stop.store(true, Ordering::Relaxed);
                result
            })
            .expect("spawning the ingest thread");
        let inlet = Inlet {
            batches: tx,
            queued: Arc::new(AtomicUsize::new(0)),
            open,
        };
        Ok((inlet, thread))
    }

    /// Streams with an open event (lines received, no event closed yet), as of the last
    /// commit.
    pub fn open_streams(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// Sends `docs` (from a request of `bytes` bytes) to be folded and committed; resolves
    /// with each document's outcome once they are durable.
    pub async fn send(&self, docs: Vec<Doc>, bytes: usize) -> Result<Vec<Outcome>, Refused> {
        let before = self.queued.fetch_add(bytes, Ordering::SeqCst);
        let _release = Release(&self.queued, bytes);
        if before > 0 && before + bytes > QUEUE_BYTES {
            return Err(Refused::Busy);
        }
        let (reply, answer) = tokio::sync::oneshot::channel();
        match self.batches.try_send(Batch { docs, reply }) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Err(Refused::Busy),
            Err(TrySendError::Disconnected(_)) => return Err(Refused::Stopped),
        }
        answer.await.map_err(|_| Refused::Stopped)
    }
}

/// Gives back a request's share of the queue when it is answered (or dropped).
struct Release<'a>(&'a AtomicUsize, usize);

impl Drop for Release<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(self.1, Ordering::SeqCst);
    }
}
