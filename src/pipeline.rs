//! The one place that knows threads and channels: files are read, parsed and folded in
//! parallel on a rayon pool, each file's lines in order on one worker, and their events come
//! out in input order through bounded crossbeam channels.
//!
//! ```text
//! feeder ──(file, channel)──▶ rayon pool: decode → parse → fold → analyse ──batches──▶ caller
//!        └──(receivers, in input order, bounded)─────────────────────────────────────▶ caller
//! ```
//!
//! Memory is bounded whatever the input: each file in flight holds at most
//! [`BATCHES_IN_FLIGHT`] batches of at most [`BATCH_EVENTS`] events or [`BATCH_BYTES`] bytes,
//! and at most [`FILES_AHEAD`] files are started ahead of the one being consumed. A worker
//! whose output is not yet wanted blocks on its channel; the file being consumed is always
//! the oldest started, so it always has a worker and the pipeline cannot deadlock.

use std::path::PathBuf;
use std::sync::Arc;
use std::thread;

use crossbeam_channel::{Receiver, Sender, bounded};

use crate::decode::{self, Format, Resume};
use crate::error::Error;
use crate::event::{Event, FileInfo};
use crate::fold::{Analyzer, FoldCounters, FoldSettings};
use crate::read::{LineFolder, fold_lines};
use crate::source::{NamePattern, file_info};

/// Events per batch sent from a worker: enough to amortise a channel operation (about
/// 100 ns) to nothing, few enough that a batch stays in cache-sized memory.
pub const BATCH_EVENTS: usize = 1024;
/// Bytes of event text per batch, so files of huge events do not make huge batches.
pub const BATCH_BYTES: usize = 4 << 20;
/// Batches a worker may have waiting before it blocks: lets it run ahead of a slow consumer
/// without holding a whole file in memory.
pub const BATCHES_IN_FLIGHT: usize = 4;
/// Files started ahead of the one being consumed: enough to keep every worker busy on
/// archives of small files; each costs at most `BATCHES_IN_FLIGHT` batches.
pub const FILES_AHEAD: usize = 16;

/// What the pipeline needs to know; built once from the config by `app`.
#[derive(Debug, Clone)]
pub struct PipelineSettings {
    pub fold: FoldSettings,
    /// `[fold] event_start`: lines it matches start events when no grammar recognises them.
    pub event_start: Option<Arc<regex::Regex>>,
    pub analyzer: Analyzer,
    pub names: NamePattern,
    /// The zone of timestamps without an offset.
    pub zone: jiff::tz::TimeZone,
    /// The year of timestamps without one (syslog RFC 3164, logcat).
    pub assume_year: i16,
    pub max_decoded_bytes: u64,
    /// Worker threads; 0 means one per core.
    pub threads: usize,
    /// The host of events whose file name names none (`ship --host-name`).
    pub host: Option<String>,
}

impl PipelineSettings {
    /// The metadata of the file at `path`, from its name.
    pub fn file_info(&self, path: &std::path::Path) -> FileInfo {
        let mut info = file_info(path, &self.names, &self.zone);
        if info.meta.host.is_none() {
            info.meta.host.clone_from(&self.host);
        }
        info
    }

    /// A parser and folder for the lines of `file`.
    pub fn line_folder(&self, file: &Arc<FileInfo>) -> LineFolder {
        LineFolder::new(file, self.fold, self.zone.clone(), self.assume_year)
            .with_event_start(self.event_start.clone())
    }
}

/// What became of one input file.
#[derive(Debug)]
pub struct FileReport {
    pub path: PathBuf,
    pub format: Option<Format>,
    /// Bytes after decompression that were read.
    pub decoded_bytes: u64,
    /// Bytes on disk, when the input is a regular file.
    pub stored_bytes: Option<u64>,
    pub counters: FoldCounters,
    pub exceptions: u64,
    /// Whether the file name followed the naming convention.
    pub named: bool,
    /// Why the file was not read to its end. Events before the failure were delivered.
    pub error: Option<Error>,
}

/// One message from the pipeline, in input order: a file's events in batches, then its report.
#[derive(Debug)]
pub enum Output {
    Events(Vec<Event>),
    Done(FileReport),
}

/// Reads `files` with `settings`, calling `sink` with each file's events in order, then its
/// report. Returns when every file is done, or as soon as `sink` returns false.
pub fn run(
    files: Vec<FileJob>,
    settings: Arc<PipelineSettings>,
    mut sink: impl FnMut(Output) -> bool,
) {
    let (order_tx, order_rx) = bounded::<Receiver<Output>>(FILES_AHEAD);
    let threads = settings.threads;
    let feeder = thread::Builder::new()
        .name("stackfold-feeder".into())
        .spawn(move || feed(files, settings, threads, order_tx))
        .expect("spawning the feeder thread");
    'files: for file_rx in &order_rx {
        for output in file_rx {
            if !sink(output) {
                break 'files;
            }
        }
    }
    // Dropping the receivers makes blocked workers and the feeder give up.
    drop(order_rx);
    feeder.join().expect("the feeder thread does not panic");
}

fn feed(
    files: Vec<FileJob>,
    settings: Arc<PipelineSettings>,
    threads: usize,
    order: Sender<Receiver<Output>>,
) {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("stackfold-fold-{i}"))
        .build()
        .expect("building the worker pool");
    for job in files {
        let (tx, rx) = bounded(BATCHES_IN_FLIGHT);
        if order.send(rx).is_err() {
            return;
        }
        let settings = Arc::clone(&settings);
        pool.spawn_fifo(move || read_file(job, &settings, tx));
    }
    drop(order);
    // Dropping the pool waits for nothing; the receivers drain the remaining work.
}

/// One file to read, and where to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileJob {
    pub path: PathBuf,
    pub resume: Resume,
}

impl From<PathBuf> for FileJob {
    fn from(path: PathBuf) -> Self {
        FileJob {
            path,
            resume: Resume::default(),
        }
    }
}

/// Decodes, parses, folds and analyses one file, sending its events in batches.
pub fn read_file(job: FileJob, settings: &PipelineSettings, tx: Sender<Output>) {
    let FileJob { path, resume } = job;
    let file = Arc::new(settings.file_info(&path));
    let mut report = FileReport {
        path: path.clone(),
        format: None,
        decoded_bytes: 0,
        stored_bytes: None,
        counters: FoldCounters::default(),
        exceptions: 0,
        named: !file.meta.is_empty(),
        error: None,
    };
    let mut decoded = match decode::open(&path, settings.max_decoded_bytes) {
        Ok(decoded) => decoded,
        Err(err) => {
            report.error = Some(err);
            let _ = tx.send(Output::Done(report));
            return;
        }
    };
    report.format = Some(decoded.format);
    report.stored_bytes = decoded.stored_len;
    let mut batch = Batch::new(&tx, &settings.analyzer);
    let folder = settings.line_folder(&file);
    let outcome = fold_lines(&mut decoded.lines, folder, resume, |event| {
        batch.push(event)
    });
    let Some(counters) = outcome.counters else {
        return; // the consumer went away
    };
    batch.flush();
    report.counters = counters;
    report.exceptions = batch.exceptions;
    report.decoded_bytes = decoded.lines.decoded_offset();
    report.error = outcome.error.map(|err| decoded.error(err));
    let _ = tx.send(Output::Done(report));
}

/// Reads one file on the calling thread and returns all its events and its report: for tests,
/// benchmarks and small inputs (the events are held in memory).
pub fn collect_file(path: PathBuf, settings: &PipelineSettings) -> (Vec<Event>, FileReport) {
    let (tx, rx) = crossbeam_channel::unbounded();
    read_file(FileJob::from(path), settings, tx);
    let mut events = Vec::new();
    for output in rx {
        match output {
            Output::Events(batch) => events.extend(batch),
            Output::Done(report) => return (events, report),
        }
    }
    unreachable!("read_file always sends its report")
}

/// Events on their way out, cut by count and bytes.
struct Batch<'a> {
    tx: &'a Sender<Output>,
    analyzer: &'a Analyzer,
    events: Vec<Event>,
    bytes: usize,
    exceptions: u64,
}

impl<'a> Batch<'a> {
    fn new(tx: &'a Sender<Output>, analyzer: &'a Analyzer) -> Self {
        Batch {
            tx,
            analyzer,
            events: Vec::with_capacity(BATCH_EVENTS),
            bytes: 0,
            exceptions: 0,
        }
    }

    /// Analyses and queues `event`; returns false once the consumer is gone.
    fn push(&mut self, mut event: Event) -> bool {
        self.analyzer.analyse(&mut event);
        self.exceptions += u64::from(event.exception.is_some());
        self.bytes += event.text.len();
        self.events.push(event);
        if self.events.len() >= BATCH_EVENTS || self.bytes >= BATCH_BYTES {
            return self.flush();
        }
        true
    }

    fn flush(&mut self) -> bool {
        if self.events.is_empty() {
            return true;
        }
        self.bytes = 0;
        let events = std::mem::replace(&mut self.events, Vec::with_capacity(BATCH_EVENTS));
        self.tx.send(Output::Events(events)).is_ok()
    }
}
