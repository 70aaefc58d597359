//! One followed file: an open handle (which keeps a renamed or deleted file readable), its
//! line reader and folder, and what tells that it was truncated.

use std::fs::File;
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use super::TailSettings;
use crate::decode::LineReader;
use crate::decode::Resume;
use crate::error::Result;
use crate::event::Event;
use crate::index::EventSink;
use crate::index::checkpoint::{HEAD_BYTES, Planned, hash};
use crate::pipeline::PipelineSettings;
use crate::read::LineFolder;

/// Bytes read from one file per round, so one busy file does not starve the others.
const READ_BUDGET: u64 = 8 << 20;
/// Bytes at the start of the file compared on every round: other bytes there mean the file
/// was truncated and written again since the last round.
const FIRST_BYTES: usize = 64;

/// When the file was last written, on the caller's clock: quiet is counted from there, so an
/// old archive found at start is closed (and its last event flushed) as soon as it is read
/// to its end, and a live file's idle timeout runs from the write, not from the read.
fn last_written(meta: &std::fs::Metadata, now: Instant) -> Instant {
    let age = meta
        .modified()
        .ok()
        .and_then(|m| m.elapsed().ok())
        .unwrap_or_default();
    now.checked_sub(age).unwrap_or(now)
}

/// What became of a followed file in a round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Progress {
    /// Still followed.
    Open,
    /// Shorter than what was read, or other first bytes: read it again as a new file.
    Truncated,
    /// Read to its end and closed: rotated away or deleted and quiet, or inactive.
    Closed,
}

/// What a round read.
#[derive(Debug)]
pub(super) struct Round {
    /// Bytes read (the events they closed went to the sink, which counts them).
    pub bytes: u64,
    pub state: Progress,
}

pub(super) struct Follow {
    /// Its checkpoint key.
    pub key: String,
    /// Where it is now (it moves when renamed).
    pub path: PathBuf,
    pub dev: u64,
    pub ino: u64,
    /// No input path leads to it any more: rotated away or deleted.
    pub gone: bool,
    file: File,
    first: Vec<u8>,
    lines: LineReader,
    folder: LineFolder,
    settings: Arc<PipelineSettings>,
    last_data: Instant,
}

impl Follow {
    /// Opens a planned plain file at `resume`.
    pub fn open(
        planned: &Planned,
        resume: Resume,
        settings: &Arc<PipelineSettings>,
        now: Instant,
    ) -> io::Result<Follow> {
        let found = &planned.found;
        let file = File::open(&found.path)?;
        let meta = file.metadata()?;
        if (meta.dev(), meta.ino()) != (found.dev, found.ino) {
            return Err(io::Error::other("replaced while being opened"));
        }
        let lines = LineReader::follow(file.try_clone()?, resume.offset, resume.line)?;
        let info = Arc::new(settings.file_info(&found.path));
        let last_data = last_written(&meta, now);
        let first = found.head[..found.head.len().min(FIRST_BYTES)].to_vec();
        Ok(Follow {
            key: planned.key.clone(),
            path: found.path.clone(),
            dev: found.dev,
            ino: found.ino,
            gone: false,
            file,
            first,
            lines,
            folder: settings.line_folder(&info),
            settings: Arc::clone(settings),
            last_data,
        })
    }

    /// Reads the lines added since the last round and adds the events they close.
    pub fn read(
        &mut self,
        sink: &mut impl EventSink,
        tail: &TailSettings,
        now: Instant,
    ) -> Result<Round> {
        let mut round = Round {
            bytes: 0,
            state: Progress::Open,
        };
        let meta = match self.file.metadata() {
            Ok(meta) => meta,
            Err(err) => {
                tracing::error!(path = %self.path.display(), "cannot stat: {err}");
                round.state = Progress::Closed;
                return Ok(round);
            }
        };
        if meta.len() < self.lines.position() || !self.starts_as_before(meta.len()) {
            // The open event's lines were all read before the truncation: it is complete.
            self.flush(sink)?;
            round.state = Progress::Truncated;
            return Ok(round);
        }
        self.gone |= meta.nlink() == 0;
        let start = self.lines.position();
        let at_end = self.read_lines(sink, start + READ_BUDGET)?;
        round.bytes = self.lines.position() - start;
        if round.bytes > 0 {
            self.last_data = last_written(&meta, now);
        }
        if !at_end {
            return Ok(round); // more to read next round: nothing is quiet yet
        }
        let quiet = now.saturating_duration_since(self.last_data);
        let done = if self.gone {
            quiet >= tail.rotate_wait
        } else {
            quiet >= tail.close_inactive
        };
        if !done && quiet >= tail.idle && self.folder.has_open_event() {
            self.flush(sink)?;
        }
        if done {
            // No writer is expected any more (the file is gone, or untouched for
            // `close_inactive`): a last line without newline is a line, as `index` reads it.
            self.lines.stop_following();
            self.read_lines(sink, u64::MAX)?;
            self.flush(sink)?;
            self.refresh_identity(sink);
            let complete = self.lines.position() >= meta.len();
            sink.end_file(&self.key, complete);
            round.state = Progress::Closed;
        }
        Ok(round)
    }

    /// Updates the checkpoint's view of the file: where it is, how big, and a head hash
    /// over as much of its start as exists now, so a file replaced by one that starts with
    /// the same lines is told apart after a restart.
    pub fn refresh_identity(&mut self, sink: &mut impl EventSink) {
        let Ok(meta) = self.file.metadata() else {
            return;
        };
        let path = self.path.to_string_lossy();
        let Some(cp) = sink.checkpoints().files.get(&self.key) else {
            return;
        };
        let head_len = meta.len().min(HEAD_BYTES);
        let grown = cp.head_len < head_len;
        if !grown && cp.size == meta.len() && cp.path == path {
            return;
        }
        let head = if grown {
            let mut head = vec![0; head_len as usize];
            if self.file.read_exact_at(&mut head, 0).is_err() {
                return;
            }
            Some(head)
        } else {
            None
        };
        let Some(cp) = sink.checkpoint_mut(&self.key) else {
            return;
        };
        cp.size = meta.len();
        cp.path = path.into_owned();
        if let Some(head) = head {
            cp.head_len = head.len() as u64;
            cp.head_hash = hash(&head);
        }
    }

    /// Whether the file still starts with the bytes it started with.
    fn starts_as_before(&mut self, size: u64) -> bool {
        let len = (size as usize).min(FIRST_BYTES);
        if len < self.first.len() {
            return false;
        }
        let mut now = vec![0; len];
        if self.file.read_exact_at(&mut now, 0).is_err() {
            return false;
        }
        if !now.starts_with(&self.first) {
            return false;
        }
        self.first = now;
        true
    }

    /// Reads and folds lines until `until` or the end; returns whether it got to the end.
    fn read_lines(&mut self, sink: &mut impl EventSink, until: u64) -> Result<bool> {
        while self.lines.position() < until {
            let raw = match self.lines.next_line() {
                Ok(Some(raw)) => raw,
                Ok(None) => return Ok(true),
                Err(err) => {
                    tracing::error!(path = %self.path.display(), "read error: {err}");
                    return Ok(true);
                }
            };
            if let Some(event) = self.folder.push(raw) {
                self.add(sink, event)?;
            }
        }
        Ok(false)
    }

    /// Closes the open event, if any (and a split line whose last piece never came).
    fn flush(&mut self, sink: &mut impl EventSink) -> Result<()> {
        while let Some(event) = self.folder.finish() {
            self.add(sink, event)?;
        }
        Ok(())
    }

    fn add(&self, sink: &mut impl EventSink, mut event: Event) -> Result<()> {
        self.settings.analyzer.analyse(&mut event);
        sink.add(&self.key, event)
    }
}
