//! Following live log directories: new files, appended lines, rotation (rename + create,
//! copytruncate, compression of rotated copies) and deleted files, with every file's read
//! position committed in the same tantivy commit as the events read up to it.
//!
//! ```text
//!          scan (every `scan`): expand the inputs, identify new and changed files,
//!          │    match them to their checkpoints (index::checkpoint::Checkpoints::plan)
//!          ▼
//! follows: one LineReader + LineFolder per open plain file ──events──▶ EventWriter
//!          read (every `poll`): lines up to the current end; idle flush;     │
//!          truncation; rotated-away and deleted files read to their end      ▼
//!                                                     commit every `commit_interval`
//! compressed files: read whole through the pipeline ───────────────▶ or `commit_events`
//! ```
//!
//! Exactly once: an event is added with its file's checkpoint moved just past it, and both
//! reach disk in one commit. A kill loses only what was not committed, and a restart reads
//! that again from the committed offsets. The open (unfinished) event of a file is never
//! in a commit: it is read again after a restart, so a trace is never cut by a kill.
//!
//! One thread does all of this. Folding runs at hundreds of MB/s per core (see
//! `benches/fold.rs`), far above what the index writer takes, whose own threads do the
//! indexing; compressed backfill goes through the parallel pipeline.

mod follow;

use std::collections::{HashMap, HashSet};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use follow::{Follow, Progress};

use crate::decode::Resume;
use crate::error::{Chain, Result};
use crate::index::checkpoint::{FileCheckpoint, Found, Plan, Planned};
use crate::index::{EventSink, Ingest, IngestCounters, Step};
use crate::pipeline::{FileJob, PipelineSettings};
use crate::source::discover;

/// How the tailer paces itself. The defaults make an event searchable within about 1.2 s
/// of being written: read within `poll`, closed by the next line or after `idle`, committed
/// within `commit_interval` of the last commit (see `benches/freshness.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TailSettings {
    /// How often open files are checked for new bytes.
    pub poll: Duration,
    /// How often the inputs are expanded again to find new, renamed and removed files.
    pub scan: Duration,
    /// How long a file must be quiet before its last event is closed without waiting for the
    /// next line. Lines of one trace are written together; a pause this long ends the event.
    pub idle: Duration,
    /// Least time between commits; an added event waits at most this for its commit.
    pub commit_interval: Duration,
    /// Most events added between commits.
    pub commit_events: u64,
    /// Most decoded bytes of events added between commits (an edge's batch size).
    pub commit_bytes: u64,
    /// A file unchanged this long is closed (its checkpoint stays; it is reopened when it
    /// changes), so archives of thousands of files do not hold thousands of descriptors.
    pub close_inactive: Duration,
    /// A file renamed away or deleted is read to its end, then closed after being quiet
    /// this long (a writer may still be finishing a line in it).
    pub rotate_wait: Duration,
    /// Events older than this are deleted, checked hourly.
    pub retention: Option<Duration>,
}

impl Default for TailSettings {
    fn default() -> Self {
        TailSettings {
            poll: Duration::from_millis(200),
            scan: Duration::from_millis(1000),
            idle: Duration::from_millis(500),
            commit_interval: Duration::from_millis(1000),
            commit_events: 100_000,
            commit_bytes: u64::MAX,
            close_inactive: Duration::from_secs(300),
            rotate_wait: Duration::from_secs(2),
            retention: None,
        }
    }
}

/// How often retention deletes old events and gone files' positions are forgotten.
const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(3600);
/// How long the position of a file gone from its path is kept: long enough for a rotated
/// file to be compressed (logrotate's `delaycompress` waits one rotation).
const FORGET_GONE_AFTER_SECS: i64 = 7 * 24 * 3600;
/// Scans a new file that starts like a file being read is left alone, in case it is the
/// copy half of a copytruncate whose truncation has not happened yet.
const COPY_WAIT_SCANS: u32 = 2;

/// What a file looked like at the last scan; a file that looks the same is not looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stat {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: Option<SystemTime>,
}

impl Stat {
    fn of(meta: &std::fs::Metadata) -> Stat {
        Stat {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.len(),
            mtime: meta.modified().ok(),
        }
    }
}

/// Totals since the tailer started.
#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub struct TailCounters {
    pub files_opened: u64,
    /// Events, exceptions and their decoded bytes, as the sink counted them.
    #[serde(flatten)]
    pub ingested: IngestCounters,
    pub commits: u64,
    pub rotations: u64,
    pub truncations: u64,
}

/// Follows `inputs` (files, directories, globs) into a sink: the index (`tail`, `run`), or
/// the network (`ship`).
pub struct Tailer<S = Ingest> {
    inputs: Vec<String>,
    pipeline: Arc<PipelineSettings>,
    settings: TailSettings,
    sink: S,
    follows: Vec<Follow>,
    known: HashMap<PathBuf, Stat>,
    copy_waits: HashMap<PathBuf, u32>,
    /// Paths whose errors were reported, so a broken file is not reported every scan.
    reported: HashSet<PathBuf>,
    /// Inputs reported as matching nothing.
    unmatched: HashSet<String>,
    last_commit: Option<Instant>,
    last_scan: Option<Instant>,
    last_housekeeping: Option<Instant>,
    counters: TailCounters,
    on_commit: Option<Box<dyn FnMut(u64) + Send>>,
}

impl<S: EventSink> Tailer<S> {
    pub fn new(
        inputs: Vec<String>,
        pipeline: Arc<PipelineSettings>,
        settings: TailSettings,
        sink: S,
    ) -> Self {
        Tailer {
            inputs,
            pipeline,
            settings,
            sink,
            follows: Vec::new(),
            known: HashMap::new(),
            copy_waits: HashMap::new(),
            reported: HashSet::new(),
            unmatched: HashSet::new(),
            last_commit: None,
            last_scan: None,
            last_housekeeping: None,
            counters: TailCounters::default(),
            on_commit: None,
        }
    }

    /// Calls `hook` with the batch number of each commit, once it is on disk.
    pub fn on_commit(&mut self, hook: impl FnMut(u64) + Send + 'static) {
        self.on_commit = Some(Box::new(hook));
    }

    /// Follows until `stop` is set, then commits what was read and returns. Open events are
    /// not flushed: the committed offsets are before them, so the next run reads them whole.
    pub fn run(&mut self, stop: &AtomicBool) -> Result<TailCounters> {
        while !stop.load(Ordering::Relaxed) {
            let busy = self.step(Instant::now())?;
            if !busy {
                sleep_unless(stop, self.settings.poll);
            }
        }
        // A sink that takes nothing now loses nothing by it: what was read since its last
        // commit is read again at the next start.
        if self.sink.is_dirty() && self.sink.ready()? {
            self.commit()?;
        }
        Ok(self.counters())
    }

    /// What the tailer did so far.
    pub fn counters(&self) -> TailCounters {
        TailCounters {
            ingested: self.sink.counters(),
            ..self.counters
        }
    }

    /// The sink the tailer adds to: shipped logs go into the same one in `run`.
    pub fn sink(&self) -> &S {
        &self.sink
    }

    /// See [`Tailer::sink`].
    pub fn sink_mut(&mut self) -> &mut S {
        &mut self.sink
    }

    /// The sink, once the tailer is done.
    pub fn into_sink(self) -> S {
        self.sink
    }

    /// One round: reads what is new, scans when due, commits when due. Returns whether
    /// anything was read (the caller sleeps otherwise).
    pub fn step(&mut self, now: Instant) -> Result<bool> {
        // A sink that takes nothing now is not read into; the scans go on, so that files
        // are opened (and kept readable) as they are rotated meanwhile.
        let ready = self.sink.ready()?;
        // Reading before scanning sees a truncation before the scan sees the copy.
        let mut read = ready && self.read_follows(now)?;
        if self.last_scan.is_none_or(|t| now - t >= self.settings.scan) {
            self.last_scan = Some(now);
            let opened = self.counters.files_opened;
            self.scan(now, ready)?;
            if ready && self.counters.files_opened > opened {
                read |= self.read_follows(now)?;
            }
        }
        self.housekeeping(now)?;
        if ready && self.commit_due(now) {
            self.commit_at(now)?;
        }
        Ok(read)
    }

    /// At most one commit per interval, and none without a change: a lone event in a quiet
    /// hour is committed at once, a busy stream once per interval or once a batch is full.
    fn commit_due(&self, now: Instant) -> bool {
        let interval_over = self
            .last_commit
            .is_none_or(|t| now.saturating_duration_since(t) >= self.settings.commit_interval);
        (self.sink.is_dirty() && interval_over) || self.batch_full()
    }

    fn batch_full(&self) -> bool {
        let (events, bytes) = self.sink.uncommitted();
        events >= self.settings.commit_events || bytes >= self.settings.commit_bytes
    }

    /// Commits now: the events added so far and every file's position.
    pub fn commit(&mut self) -> Result<()> {
        self.commit_at(Instant::now())
    }

    fn commit_at(&mut self, now: Instant) -> Result<()> {
        for follow in &mut self.follows {
            follow.refresh_identity(&mut self.sink);
        }
        let batch = self.sink.commit()?;
        self.counters.commits += 1;
        self.last_commit = Some(now);
        if let Some(hook) = &mut self.on_commit {
            hook(batch);
        }
        Ok(())
    }

    fn read_follows(&mut self, now: Instant) -> Result<bool> {
        let mut read_any = false;
        let mut i = 0;
        while i < self.follows.len() {
            if self.batch_full() {
                // A full batch goes before more is read, if the sink takes it now.
                if !self.sink.ready()? {
                    break;
                }
                self.commit_at(now)?;
            }
            let follow = &mut self.follows[i];
            let progress = follow.read(&mut self.sink, &self.settings, now)?;
            read_any |= progress.bytes > 0;
            match progress.state {
                Progress::Open => i += 1,
                Progress::Truncated => {
                    self.counters.truncations += 1;
                    let follow = self.follows.swap_remove(i);
                    tracing::info!(path = %follow.path.display(), "truncated: reading it again from the start");
                    // Forget it: the next scan plans the path afresh, and a copy of the old
                    // content can continue the old checkpoint.
                    self.known.remove(&follow.path);
                    self.last_scan = None;
                }
                Progress::Closed => {
                    let follow = self.follows.swap_remove(i);
                    tracing::debug!(path = %follow.path.display(), "closed");
                }
            }
        }
        Ok(read_any)
    }

    /// Expands the inputs and starts reading what is new or changed; compressed files wait
    /// while the sink is not `ready`.
    fn scan(&mut self, now: Instant, ready: bool) -> Result<()> {
        let found = discover(&self.inputs);
        for err in &found.errors {
            // Said once: a glob matching nothing yet is normal for a service not started.
            if self.unmatched.insert(err.to_string()) {
                tracing::warn!("{}; waiting for it to appear", Chain(err));
            }
        }
        let mut candidates = Vec::new();
        let mut present: HashSet<(u64, u64)> = HashSet::new();
        for path in found.files {
            let Ok(path) = std::fs::canonicalize(&path) else {
                continue; // gone since it was listed
            };
            let Ok(meta) = std::fs::metadata(&path) else {
                continue;
            };
            if !meta.is_file() {
                continue;
            }
            let stat = Stat::of(&meta);
            present.insert((stat.dev, stat.ino));
            if let Some(follow) = self
                .follows
                .iter_mut()
                .find(|f| (f.dev, f.ino) == (stat.dev, stat.ino))
            {
                if follow.path != path && !self.known.contains_key(&path) {
                    self.counters.rotations += 1;
                    tracing::info!(from = %follow.path.display(), to = %path.display(), "renamed");
                    follow.path.clone_from(&path);
                }
                self.known.insert(path, stat);
                continue;
            }
            if self.known.get(&path) != Some(&stat) {
                candidates.push((path, stat));
            }
        }
        for follow in &mut self.follows {
            let still_there = present.contains(&(follow.dev, follow.ino));
            if !still_there && !follow.gone {
                tracing::info!(path = %follow.path.display(), "rotated away or deleted: reading it to its end");
                self.counters.rotations += 1;
            }
            follow.gone = !still_there;
        }
        // Paths that no longer exist are forgotten, so a file created there later is new.
        self.known.retain(|path, _| path.exists());
        if !candidates.is_empty() {
            self.start(candidates, now, ready)?;
        }
        Ok(())
    }

    /// Matches new and changed files to their checkpoints and starts reading them.
    fn start(&mut self, candidates: Vec<(PathBuf, Stat)>, now: Instant, ready: bool) -> Result<()> {
        let mut found = Vec::with_capacity(candidates.len());
        let mut stats = HashMap::new();
        for (path, stat) in candidates {
            match Found::identify(&path) {
                Ok(f) => {
                    stats.insert(f.path.clone(), stat);
                    found.push(f);
                }
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
                Err(err) => {
                    if self.reported.insert(path.clone()) {
                        tracing::error!(path = %path.display(), "cannot read: {err}");
                    }
                }
            }
        }
        let busy: HashSet<String> = self.follows.iter().map(|f| f.key.clone()).collect();
        let plans = self.sink.checkpoints().plan(found, &busy);
        let mut compressed = Vec::new();
        let mut keys = HashMap::new();
        for planned in plans {
            let path = planned.found.path.clone();
            if !ready && !planned.found.plain {
                continue; // read whole once the sink takes events again: it does not grow
            }
            let Some(resume) = self.resume_point(&planned, ready) else {
                continue; // a possible copy: wait for its original to be truncated
            };
            self.known.insert(path.clone(), stats[&path]);
            let Some(resume) = resume else {
                continue; // unchanged since it was read to its end
            };
            // The checkpoint starts where reading starts: for a copy, past what was read of
            // its original, so a restart before its first event does not read it all.
            let start = FileCheckpoint {
                offset: resume.offset,
                line: resume.line,
                ..planned.checkpoint.clone()
            };
            self.sink.begin_file(&planned.key, start);
            if planned.found.plain {
                match Follow::open(&planned, resume, &self.pipeline, now) {
                    Ok(follow) => {
                        tracing::info!(path = %path.display(), offset = resume.offset, "following");
                        self.counters.files_opened += 1;
                        self.follows.push(follow);
                    }
                    Err(err) => tracing::error!(path = %path.display(), "cannot open: {err}"),
                }
            } else {
                keys.insert(path.clone(), planned.key.clone());
                compressed.push(FileJob { path, resume });
            }
        }
        if !compressed.is_empty() {
            self.read_compressed(compressed, &keys)?;
        }
        Ok(())
    }

    /// Where to start reading a planned file: `None` to leave it for a later scan,
    /// `Some(None)` when there is nothing to read.
    fn resume_point(&mut self, planned: &Planned, ready: bool) -> Option<Option<Resume>> {
        let path = &planned.found.path;
        if let (Plan::Fresh, Some(original)) = (planned.plan, &planned.copy_of) {
            if !ready {
                // Follows are not read meanwhile, so the truncation that would make this a
                // rotated copy is not seen yet: it is judged once reading goes on.
                return None;
            }
            let draining = self.follows.iter().any(|f| &f.key == original && f.gone);
            if draining {
                // A rotated file compressed while it is still being read to its end: once
                // it is closed, the copy continues its checkpoint like any orphan.
                return None;
            }
            let waited = self.copy_waits.entry(path.clone()).or_insert(0);
            if *waited < COPY_WAIT_SCANS {
                *waited += 1;
                return None;
            }
            // Its original is still in place: a copy of what is being read (logrotate's
            // `copy`, a backup). What the original was read up to counts as read here too.
            self.copy_waits.remove(path);
            let cp = &self.sink.checkpoints().files[original];
            // A copy taken before the original grew holds no more than was read of it.
            let offset = if planned.found.plain {
                cp.offset.min(planned.found.size)
            } else {
                cp.offset
            };
            return Some(Some(Resume {
                offset,
                line: cp.line,
            }));
        }
        self.copy_waits.remove(path);
        Some(match planned.plan {
            Plan::Skip => None,
            Plan::Resume(resume) => Some(resume),
            Plan::Fresh => Some(Resume::default()),
        })
    }

    /// Reads compressed files whole (they do not grow), in parallel.
    fn read_compressed(
        &mut self,
        jobs: Vec<FileJob>,
        keys: &HashMap<PathBuf, String>,
    ) -> Result<()> {
        let files_opened = &mut self.counters.files_opened;
        let commit_bytes = self.settings.commit_bytes;
        self.sink.read_files(
            jobs,
            keys,
            Arc::clone(&self.pipeline),
            commit_bytes,
            |step| {
                if let Step::File(report) = step {
                    if let Some(err) = &report.error {
                        tracing::error!("{}", Chain(err));
                    }
                    *files_opened += 1;
                }
            },
        )
    }

    /// Hourly: forgets the positions of files gone for a week, and deletes events older
    /// than the retention. Both reach disk with the next commit.
    fn housekeeping(&mut self, now: Instant) -> Result<()> {
        if self
            .last_housekeeping
            .is_some_and(|t| now - t < HOUSEKEEPING_EVERY)
        {
            return Ok(());
        }
        self.last_housekeeping = Some(now);
        let busy: HashSet<String> = self.follows.iter().map(|f| f.key.clone()).collect();
        let forgotten = self.sink.forget_gone(FORGET_GONE_AFTER_SECS, &busy);
        if forgotten > 0 {
            tracing::info!(forgotten, "forgot the positions of files gone for a week");
        }
        let Some(retention) = self.settings.retention else {
            return Ok(());
        };
        let Ok(cutoff) = jiff::Timestamp::now().checked_sub(retention) else {
            return Ok(());
        };
        tracing::info!(%cutoff, "deleting events older than the retention");
        self.sink.delete_before(cutoff)
    }
}

/// Sleeps for `duration`, waking early when `stop` is set.
fn sleep_unless(stop: &AtomicBool, duration: Duration) {
    let until = Instant::now() + duration;
    while !stop.load(Ordering::Relaxed) {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        std::thread::sleep(left.min(Duration::from_millis(50)));
    }
}

#[cfg(test)]
mod tests;
