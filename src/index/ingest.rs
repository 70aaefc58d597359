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

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;

use super::EventWriter;
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
    pub fn add(&mut self, key: &str, event: &Event) -> Result<()> {
        self.writer.add(key, event)?;
        self.counters.events += 1;
        self.counters.exceptions += u64::from(event.exception.is_some());
        self.counters.bytes += event.end_offset - event.offset;
        Ok(())
    }

    /// Commits the events added so far with the checkpoints that describe them; returns the
    /// batch they were indexed under.
    pub fn commit(&mut self) -> Result<u64> {
        self.writer.commit()
    }

    /// Reads `jobs` through the parallel pipeline into the index, each file under its key in
    /// `keys`, committing whenever `commit_bytes` of events are waiting. A file that fails
    /// keeps the events read before the failure and is marked incomplete; the others go on.
    /// Stops at the first index error.
    pub fn read_files(
        &mut self,
        jobs: Vec<FileJob>,
        keys: &HashMap<PathBuf, String>,
        settings: Arc<PipelineSettings>,
        commit_bytes: u64,
        mut step: impl FnMut(Step<'_>),
    ) -> Result<()> {
        let mut failure = None;
        pipeline::run(jobs, settings, |output| {
            let added = match output {
                Output::Events(events) => self.add_batch(keys, &events, commit_bytes),
                Output::Done(report) => {
                    self.writer
                        .end_file(&keys[&report.path], report.error.is_none());
                    step(Step::File(Box::new(report)));
                    return true;
                }
            };
            match added {
                Ok(()) => {
                    step(Step::Batch(&self.counters));
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

    fn add_batch(
        &mut self,
        keys: &HashMap<PathBuf, String>,
        events: &[Event],
        commit_bytes: u64,
    ) -> Result<()> {
        let Some(first) = events.first() else {
            return Ok(());
        };
        let key = &keys[&first.source.path];
        for event in events {
            self.add(key, event)?;
        }
        if self.writer.uncommitted_bytes() >= commit_bytes {
            self.writer.commit()?;
        }
        Ok(())
    }
}
