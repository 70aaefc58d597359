//! The one sink every input feeds: events go into the index together with the positions
//! that produced them, and one commit makes both durable and searchable at once.
//!
//! In: the events of a source (a file, known by its checkpoint key), in that source's order.
//! Out: documents and checkpoints in the index writer; [`Ingest::commit`] writes them in one
//! tantivy commit and returns the batch they were indexed under. Batch `index` reads its
//! files through [`Ingest::read_files`] (the parallel pipeline); `tail` adds the events of
//! each followed file as they close, and reads compressed files through `read_files` too.
//! Whatever was added but not committed is lost by a crash, and so is the progress that
//! produced it: the next run reads it again, so every event lands exactly once.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;

use super::EventWriter;
use super::checkpoint::{Checkpoints, FileCheckpoint};
use crate::error::Result;
use crate::event::Event;
use crate::pipeline::{self, FileJob, FileReport, Output, PipelineSettings};

/// What the sink took in since it was opened.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct IngestCounters {
    pub events: u64,
    pub exceptions: u64,
    /// Decoded bytes of the events.
    pub bytes: u64,
}

impl IngestCounters {
    /// Counts `event` in.
    pub fn count(&mut self, event: &Event) {
        self.events += 1;
        self.exceptions += u64::from(event.exception.is_some());
        self.bytes += event.end_offset - event.offset;
    }
}

/// What [`Ingest::read_files`] tells its caller as it goes.
#[derive(Debug)]
pub enum Step<'a> {
    /// A batch of events was added; the totals so far.
    Batch(&'a IngestCounters),
    /// A file was read to its end, or as far as it could be.
    File(Box<FileReport>),
}

/// The index writer with the totals of what went through it.
pub struct Ingest {
    writer: EventWriter,
    counters: IngestCounters,
}

impl Ingest {
    pub fn new(writer: EventWriter) -> Self {
        Ingest {
            writer,
            counters: IngestCounters::default(),
        }
    }

    /// The totals since the sink was opened.
    pub fn counters(&self) -> IngestCounters {
        self.counters
    }

    /// The writer, for the checkpoints of the sources.
    pub fn writer(&self) -> &EventWriter {
        &self.writer
    }

    /// The writer, to start, end and update the checkpoints of sources.
    pub fn writer_mut(&mut self) -> &mut EventWriter {
        &mut self.writer
    }

    /// Adds `event` of the source `key` and moves the source's checkpoint past it.
    pub fn add(&mut self, key: &str, event: Event) -> Result<()> {
        self.counters.count(&event);
        self.writer.add(key, event)
    }

    /// Commits the events added so far with the checkpoints that describe them; returns the
    /// batch they were indexed under.
    pub fn commit(&mut self) -> Result<u64> {
        self.writer.commit()
    }

    /// Waits for the merges the commits started (see [`EventWriter::wait_merging_threads`]).
    pub fn wait_merging_threads(self) -> Result<()> {
        self.writer.wait_merging_threads()
    }
}

/// Where followed files' events go, with the positions that produced them: the index
/// ([`Ingest`], for `tail` and `run`) or the network (`ship`, on an edge). Either way an
/// event is added with its file's checkpoint moved just past it, and [`EventSink::commit`]
/// makes a prefix of what was added durable together with the checkpoints that describe it
/// (the index at once; an edge once the central acknowledged it).
pub trait EventSink {
    /// The files' checkpoints as of the last commit plus what was added since.
    fn checkpoints(&self) -> &Checkpoints;

    /// See [`Checkpoints::begin_file`].
    fn begin_file(&mut self, key: &str, from: FileCheckpoint);

    /// See [`Checkpoints::end_file`].
    fn end_file(&mut self, key: &str, complete: bool);

    /// The checkpoint of `key`, to update what identifies the file; progress moves only
    /// through [`EventSink::add`].
    fn checkpoint_mut(&mut self, key: &str) -> Option<&mut FileCheckpoint>;

    /// See [`Checkpoints::forget_gone`].
    fn forget_gone(&mut self, max_age_secs: i64, busy: &HashSet<String>) -> usize;

    /// Adds `event` of the file `key` and moves the file's checkpoint past it.
    fn add(&mut self, key: &str, event: Event) -> Result<()>;

    /// Commits what was added; returns the batch number it went under.
    fn commit(&mut self) -> Result<u64>;

    /// Whether anything (events or checkpoints) changed since the last commit.
    fn is_dirty(&self) -> bool;

    /// Events and their decoded bytes added since the last commit.
    fn uncommitted(&self) -> (u64, u64);

    /// The totals since the sink was opened.
    fn counters(&self) -> IngestCounters;

    /// Whether the sink takes more events now. A sink that does not (an edge whose central
    /// is behind or down) is not read into: the files keep what it has not taken.
    fn ready(&mut self) -> Result<bool> {
        Ok(true)
    }

    /// Deletes every event older than `cutoff` at the next commit, where the sink keeps
    /// events at all.
    fn delete_before(&mut self, _cutoff: jiff::Timestamp) -> Result<()> {
        Ok(())
    }

    /// Reads `jobs` through the parallel pipeline into the sink, each file under its key in
    /// `keys`, committing whenever `commit_bytes` of events are waiting. A file that fails
    /// keeps the events read before the failure and is marked incomplete; the others go on.
    /// Stops at the first error of the sink.
    fn read_files(
        &mut self,
        jobs: Vec<FileJob>,
        keys: &HashMap<PathBuf, String>,
        settings: Arc<PipelineSettings>,
        commit_bytes: u64,
        mut step: impl FnMut(Step<'_>),
    ) -> Result<()>
    where
        Self: Sized,
    {
        let mut failure = None;
        pipeline::run(jobs, settings, |output| {
            let added = match output {
                Output::Events(events) => add_batch(self, keys, events, commit_bytes),
                Output::Done(report) => {
                    self.end_file(&keys[&report.path], report.error.is_none());
                    step(Step::File(Box::new(report)));
                    return true;
                }
            };
            match added {
                Ok(()) => {
                    step(Step::Batch(&self.counters()));
                    true
                }
                Err(err) => {
                    failure = Some(err);
                    false
                }
            }
        });
        failure.map_or(Ok(()), Err)
    }
}

fn add_batch(
    sink: &mut impl EventSink,
    keys: &HashMap<PathBuf, String>,
    events: Vec<Event>,
    commit_bytes: u64,
) -> Result<()> {
    let Some(first) = events.first() else {
        return Ok(());
    };
    let key = &keys[&first.source.path];
    for event in events {
        sink.add(key, event)?;
    }
    if sink.uncommitted().1 >= commit_bytes {
        sink.commit()?;
    }
    Ok(())
}

impl EventSink for Ingest {
    fn checkpoints(&self) -> &Checkpoints {
        self.writer.checkpoints()
    }

    fn begin_file(&mut self, key: &str, from: FileCheckpoint) {
        self.writer.begin_file(key, from);
    }

    fn end_file(&mut self, key: &str, complete: bool) {
        self.writer.end_file(key, complete);
    }

    fn checkpoint_mut(&mut self, key: &str) -> Option<&mut FileCheckpoint> {
        self.writer.checkpoint_mut(key)
    }

    fn forget_gone(&mut self, max_age_secs: i64, busy: &HashSet<String>) -> usize {
        self.writer.forget_gone(max_age_secs, busy)
    }

    fn add(&mut self, key: &str, event: Event) -> Result<()> {
        Ingest::add(self, key, event)
    }

    fn commit(&mut self) -> Result<u64> {
        Ingest::commit(self)
    }

    fn is_dirty(&self) -> bool {
        self.writer.is_dirty()
    }

    fn uncommitted(&self) -> (u64, u64) {
        (
            self.writer.uncommitted_events(),
            self.writer.uncommitted_bytes(),
        )
    }

    fn counters(&self) -> IngestCounters {
        self.counters
    }

    fn delete_before(&mut self, cutoff: jiff::Timestamp) -> Result<()> {
        self.writer.delete_before(cutoff)
    }
}
