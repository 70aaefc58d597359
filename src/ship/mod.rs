//! The edge: `stackfold ship` follows files as `tail` does, folds and fingerprints their
//! events here, and ships them to a central's `_bulk` endpoint instead of an index.
//!
//! ```text
//! tailer (tail::Tailer<Shipper>) ──add──▶ Shipper: the open batch, positions moved past it
//!                                            │ commit (by count, bytes, time): seal it with a
//!                                            ▼ copy of every file's position
//!                                   bounded queue (QUEUE_BATCHES)
//!                                            │
//!                        sender thread ──────▼── POST /_bulk (gzip, `create` by event id),
//!                                               again until acknowledged; then the state
//!                                               file takes the batch's positions (atomically)
//! ```
//!
//! Exactly once: a file's position in the state file moves only after the central answered
//! that the batch up to it is committed (201, or 409 for an event it had already). After a
//! crash the edge reads again from the saved positions and sends again what may have been
//! lost; the central recognises what it has by each stream's position (see
//! `ingest::edge`), Elasticsearch and OpenSearch by the `_id`. For that, a file must be the
//! same stream after a crash as before: a file's stream name is random, so it is saved, at
//! the position where reading started, before any event of it is sent.
//!
//! The files are the spool: when the queue is full (the central is down or slow) the tailer
//! stops reading but goes on scanning, so rotated files are opened and kept readable, and
//! memory stays bounded by the queue. Wrong credentials, or a URL that is no bulk endpoint,
//! stop the edge with the central's answer rather than retry forever.

mod client;
mod lag;
mod sender;
mod state;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Sender, bounded};

pub use client::{Central, Credentials, Sent};
pub use lag::{FileLag, LagReport, serve_metrics};
pub use state::{Loaded, StateDir, default_dir};

use crate::error::{Error, Result};
use crate::event::Event;
use crate::index::checkpoint::{Checkpoints, FileCheckpoint};
use crate::index::{EventSink, IngestCounters};
use crate::ingest::edge::{EdgeDoc, doc_id};

/// Sealed batches waiting for the sender, beyond the one it is sending: enough to read the
/// next batch while one is on the wire; the memory an outage can take is this many batches.
const QUEUE_BATCHES: usize = 2;

/// How the edge retries and how long it keeps trying when told to stop.
#[derive(Debug, Clone, Copy)]
pub struct ShipSettings {
    /// First wait after a failed request; doubled (with jitter) up to `retry_max`.
    pub retry_first: Duration,
    pub retry_max: Duration,
    /// On shutdown, how long unsent batches are still tried; what is left is read again at
    /// the next start.
    pub shutdown_grace: Duration,
}

impl Default for ShipSettings {
    fn default() -> Self {
        ShipSettings {
            retry_first: Duration::from_millis(250),
            retry_max: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(5),
        }
    }
}

/// One event in a batch: its `_id` and where its two bulk lines are in the batch's body.
#[derive(Debug, Clone)]
struct Item {
    id: String,
    lines: std::ops::Range<usize>,
}

/// A batch as the sender takes it: the events (their bulk lines, one after the other, in
/// `body`), every file's position once they are in, and the files started since the last
/// batch, as they were started.
struct Sealed {
    body: Vec<u8>,
    items: Vec<Item>,
    checkpoints: Checkpoints,
    begun: Vec<(String, FileCheckpoint)>,
}

/// What the tailer's thread and the sender share.
#[derive(Default)]
struct Shared {
    /// Why the edge must stop, once the sender knows.
    fatal: Mutex<Option<String>>,
    /// Each file's acknowledged position.
    acked: Mutex<HashMap<String, u64>>,
    /// Set when the edge shuts down: the sender gives up retrying after the grace.
    stopping: Mutex<Option<Instant>>,
    counts: Counts,
    lag: Mutex<LagReport>,
    /// The central answered the last request.
    connected: AtomicBool,
}

/// What the sender counts, for the metrics.
#[derive(Debug, Default)]
struct Counts {
    batches: AtomicU64,
    events: AtomicU64,
    /// Events the central already had (409).
    duplicates: AtomicU64,
    /// Events the central refused for good (a 4xx item): lost, and logged.
    rejected: AtomicU64,
    retries: AtomicU64,
    bytes: AtomicU64,
}

/// The edge's totals, as the metrics show them.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct ShipCounts {
    pub batches_acked: u64,
    pub events_acked: u64,
    pub events_duplicate: u64,
    pub events_rejected: u64,
    pub retries: u64,
    /// NDJSON bytes acknowledged, before compression.
    pub bytes_acked: u64,
    pub connected: bool,
}

/// What the metrics endpoint reads.
#[derive(Clone)]
pub struct ShipStatus(Arc<Shared>);

impl ShipStatus {
    pub fn counts(&self) -> ShipCounts {
        let c = &self.0.counts;
        ShipCounts {
            batches_acked: c.batches.load(Ordering::Relaxed),
            events_acked: c.events.load(Ordering::Relaxed),
            events_duplicate: c.duplicates.load(Ordering::Relaxed),
            events_rejected: c.rejected.load(Ordering::Relaxed),
            retries: c.retries.load(Ordering::Relaxed),
            bytes_acked: c.bytes.load(Ordering::Relaxed),
            connected: self.0.connected.load(Ordering::Relaxed),
        }
    }

    pub fn lag(&self) -> LagReport {
        self.0.lag.lock().expect("lag lock").clone()
    }
}

/// The network sink of an edge's tailer.
pub struct Shipper {
    edge: Arc<str>,
    checkpoints: Checkpoints,
    body: Vec<u8>,
    items: Vec<Item>,
    begun: Vec<(String, FileCheckpoint)>,
    uncommitted_events: u64,
    uncommitted_bytes: u64,
    dirty: bool,
    counters: IngestCounters,
    batches: u64,
    queue: Option<Sender<Sealed>>,
    sender: Option<JoinHandle<()>>,
    shared: Arc<Shared>,
    settings: ShipSettings,
    lag: lag::Tracker,
}

impl Shipper {
    /// Ships as `edge` to `central`, going on from the positions saved in `state`, and
    /// starts the sender thread.
    pub fn start(
        edge: &str,
        central: Central,
        state: StateDir,
        checkpoints: Checkpoints,
        settings: ShipSettings,
    ) -> Shipper {
        let shared = Arc::new(Shared::default());
        shared.acked.lock().expect("acked lock").extend(
            checkpoints
                .files
                .iter()
                .map(|(key, cp)| (key.clone(), cp.offset)),
        );
        let (tx, rx) = bounded(QUEUE_BATCHES);
        let edge: Arc<str> = Arc::from(edge);
        let sender = sender::Sender {
            central,
            state,
            edge: Arc::clone(&edge),
            shared: Arc::clone(&shared),
            settings,
            saved: checkpoints.clone(),
        };
        let thread = std::thread::Builder::new()
            .name("stackfold-ship".into())
            .spawn(move || sender.run(rx))
            .expect("spawning the sender thread");
        Shipper {
            edge,
            checkpoints,
            body: Vec::new(),
            items: Vec::new(),
            begun: Vec::new(),
            uncommitted_events: 0,
            uncommitted_bytes: 0,
            dirty: false,
            counters: IngestCounters::default(),
            batches: 0,
            queue: Some(tx),
            sender: Some(thread),
            shared,
            settings,
            lag: lag::Tracker::default(),
        }
    }

    /// What the metrics endpoint reads.
    pub fn status(&self) -> ShipStatus {
        ShipStatus(Arc::clone(&self.shared))
    }

    /// Stops: the sender sends what is sealed for at most the shutdown grace, then the
    /// thread ends. Returns why the edge had to stop, if it did.
    pub fn finish(mut self) -> Result<ShipCounts> {
        *self.shared.stopping.lock().expect("stop lock") =
            Some(Instant::now() + self.settings.shutdown_grace);
        self.queue = None;
        if let Some(thread) = self.sender.take() {
            thread.join().expect("the sender does not panic");
        }
        self.check()?;
        Ok(self.status().counts())
    }

    fn check(&self) -> Result<()> {
        match &*self.shared.fatal.lock().expect("fatal lock") {
            Some(what) => Err(Error::Ship { what: what.clone() }),
            None => Ok(()),
        }
    }

    fn stream_of(&mut self, key: &str) -> String {
        let cp = self.checkpoints.file_entry(key);
        if cp.stream.is_empty() {
            cp.stream = new_stream();
        }
        cp.stream.clone()
    }
}

/// A stream name no other file of any edge has: 64 random bits.
fn new_stream() -> String {
    format!("{:016x}", fastrand::u64(..))
}

impl EventSink for Shipper {
    fn checkpoints(&self) -> &Checkpoints {
        &self.checkpoints
    }

    fn begin_file(&mut self, key: &str, mut from: FileCheckpoint) {
        if from.stream.is_empty() {
            from.stream = new_stream();
        }
        self.shared
            .acked
            .lock()
            .expect("acked lock")
            .entry(key.to_owned())
            .or_insert(from.offset);
        self.begun.push((key.to_owned(), from.clone()));
        self.checkpoints.begin_file(key, from);
        self.dirty = true;
    }

    fn end_file(&mut self, key: &str, complete: bool) {
        self.checkpoints.end_file(key, complete);
        self.dirty = true;
    }

    fn checkpoint_mut(&mut self, key: &str) -> Option<&mut FileCheckpoint> {
        self.dirty = true;
        self.checkpoints.file_mut(key)
    }

    fn forget_gone(&mut self, max_age_secs: i64, busy: &HashSet<String>) -> usize {
        let forgotten = self.checkpoints.forget_gone(max_age_secs, busy);
        self.dirty |= forgotten > 0;
        forgotten
    }

    fn add(&mut self, key: &str, event: Event) -> Result<()> {
        let event = &event;
        let stream = self.stream_of(key);
        let id = doc_id(&self.edge, &stream, event.offset);
        let body = &mut self.body;
        let start = body.len();
        body.extend_from_slice(b"{\"create\":{\"_id\":");
        serde_json::to_writer(&mut *body, &id).expect("an id serialises");
        body.extend_from_slice(b"}}\n");
        serde_json::to_writer(&mut *body, &EdgeDoc::new(event, &self.edge, &stream))
            .expect("an event serialises");
        body.push(b'\n');
        self.items.push(Item {
            id,
            lines: start..body.len(),
        });
        self.checkpoints.advance(key, event);
        let bytes = event.end_offset - event.offset;
        self.uncommitted_events += 1;
        self.uncommitted_bytes += bytes;
        self.counters.count(event);
        self.dirty = true;
        Ok(())
    }

    /// Seals the batch for the sender; waits while the queue is full (the tailer asks
    /// [`EventSink::ready`] first, so only a compressed file's backfill waits here).
    fn commit(&mut self) -> Result<u64> {
        self.check()?;
        let sealed = Sealed {
            body: std::mem::take(&mut self.body),
            items: std::mem::take(&mut self.items),
            checkpoints: self.checkpoints.clone(),
            begun: std::mem::take(&mut self.begun),
        };
        let queue = self
            .queue
            .as_ref()
            .expect("a shipper takes batches until finished");
        if queue.send(sealed).is_err() {
            self.check()?;
            return Err(Error::Ship {
                what: "the sender stopped".into(),
            });
        }
        self.uncommitted_events = 0;
        self.uncommitted_bytes = 0;
        self.dirty = false;
        self.batches += 1;
        Ok(self.batches)
    }

    fn is_dirty(&self) -> bool {
        self.dirty
    }

    fn uncommitted(&self) -> (u64, u64) {
        (self.uncommitted_events, self.uncommitted_bytes)
    }

    fn counters(&self) -> IngestCounters {
        self.counters
    }

    fn ready(&mut self) -> Result<bool> {
        self.check()?;
        let now = Instant::now();
        if self.lag.due(now) {
            let acked = self.shared.acked.lock().expect("acked lock").clone();
            let report = self.lag.measure(&self.checkpoints, &acked, now);
            *self.shared.lag.lock().expect("lag lock") = report;
        }
        let queue = self
            .queue
            .as_ref()
            .expect("a shipper takes batches until finished");
        Ok(!queue.is_full())
    }
}

impl Drop for Shipper {
    fn drop(&mut self) {
        self.queue = None;
        if let Some(thread) = self.sender.take() {
            *self.shared.stopping.lock().expect("stop lock") = Some(Instant::now());
            let _ = thread.join();
        }
    }
}
