//! One file's lines through the parse and fold stages on the calling thread: what
//! [`pipeline`](crate::pipeline) runs on each of its workers, and what `tail` runs for
//! each followed file as it grows.
//!
//! In: a [`LineReader`] (from `decode`), positioned anywhere. Out: the file's events in
//! order, each as soon as the line after it (or the end of input, or [`LineFolder::finish`])
//! closes it. No threads, channels or clocks here.

use std::sync::Arc;

use jiff::tz::TimeZone;

use crate::decode::{LineReader, RawLine, Resume};
use crate::event::{Event, FileInfo};
use crate::fold::{FoldCounters, FoldSettings, Folder, Line};
use crate::parse::{HeaderParser, strip_ansi};

/// How [`fold_lines`] ended.
pub struct FoldOutcome {
    /// What the fold stage counted; `None` if `emit` asked to stop.
    pub counters: Option<FoldCounters>,
    /// The read error that ended the input early, after the events before it.
    pub error: Option<std::io::Error>,
}

/// Parses and folds every line of `lines` from `resume` on with `folder` (new, for this
/// file), passing each finished event to
/// `emit` (which returns false to stop). Events come out in order; the last one at the end of
/// the input or at a read error.
pub fn fold_lines(
    lines: &mut LineReader,
    mut folder: LineFolder,
    resume: Resume,
    mut emit: impl FnMut(Event) -> bool,
) -> FoldOutcome {
    if resume.offset > 0 {
        match lines.skip_to(resume.offset, resume.line) {
            Ok(true) => {}
            Ok(false) => {
                return FoldOutcome {
                    counters: Some(FoldCounters::default()),
                    error: None,
                };
            }
            Err(err) => {
                return FoldOutcome {
                    counters: Some(FoldCounters::default()),
                    error: Some(err),
                };
            }
        }
    }
    let mut error = None;
    loop {
        let raw = match lines.next_line() {
            Ok(Some(raw)) => raw,
            Ok(None) => break,
            Err(err) => {
                error = Some(err);
                break;
            }
        };
        if let Some(event) = folder.push(raw)
            && !emit(event)
        {
            return FoldOutcome {
                counters: None,
                error,
            };
        }
    }
    if let Some(event) = folder.finish()
        && !emit(event)
    {
        return FoldOutcome {
            counters: None,
            error,
        };
    }
    FoldOutcome {
        counters: Some(*folder.counters()),
        error,
    }
}

/// The parse and fold stages for one file's lines: a header parser and a folder that keep
/// their state from line to line, so a followed file can be fed as it grows.
#[derive(Debug)]
pub struct LineFolder {
    parser: HeaderParser,
    folder: Folder,
    event_start: Option<Arc<regex::Regex>>,
}

impl LineFolder {
    /// A folder for the lines of `file`, whose timestamps without an offset are in `zone`
    /// and those without a year in `assume_year` (unless the file name has a date).
    pub fn new(file: &Arc<FileInfo>, fold: FoldSettings, zone: TimeZone, assume_year: i16) -> Self {
        let file_date = file.date_ts.map(|ts| ts.to_zoned(zone.clone()).date());
        LineFolder {
            parser: HeaderParser::new(zone, assume_year, file_date),
            folder: Folder::new(fold, Arc::clone(file)),
            event_start: None,
        }
    }

    /// The same folder, where lines `event_start` matches start events when no header
    /// grammar recognises them (`[fold] event_start`).
    pub fn with_event_start(mut self, event_start: Option<Arc<regex::Regex>>) -> Self {
        self.event_start = event_start;
        self
    }

    /// Parses and folds the next line; returns the event it closed, if any.
    pub fn push(&mut self, raw: RawLine<'_>) -> Option<Event> {
        let text = match std::str::from_utf8(raw.bytes) {
            Ok(valid) => std::borrow::Cow::Borrowed(valid),
            Err(_) => String::from_utf8_lossy(raw.bytes),
        };
        let clean = strip_ansi(&text);
        let header = self.parser.parse(&clean).or_else(|| {
            let starts = self
                .event_start
                .as_ref()
                .is_some_and(|r| r.is_match(&clean));
            starts.then(|| crate::parse::Header::started(&clean))
        });
        self.folder.push(Line {
            number: raw.number,
            offset: raw.offset,
            end: raw.end,
            raw: &text,
            header,
        })
    }

    /// Closes the open event, if any: at the end of input, or when a followed file has been
    /// quiet for a while. Lines pushed later start a new event.
    pub fn finish(&mut self) -> Option<Event> {
        self.folder.finish()
    }

    /// Whether an event is open (lines pushed but not yet returned).
    pub fn has_open_event(&self) -> bool {
        self.folder.has_open_event()
    }

    pub fn counters(&self) -> &FoldCounters {
        self.folder.counters()
    }
}

/// The event `text` (an event's lines, joined by `\n`) folds into on its own through
/// `folder`, or `None` when it folds into more than one: what re-grouping reads an indexed
/// event's trace from (a JSON line's stack field, lines under repeated headers), since the
/// index keeps the text as written, not the trace as folding found it.
pub fn refold(mut folder: LineFolder, text: &str) -> Option<Event> {
    let mut events = Vec::new();
    let mut offset = 0u64;
    for (i, line) in text.split('\n').enumerate() {
        let end = offset + line.len() as u64 + 1;
        let raw = RawLine {
            offset,
            end,
            number: i as u64 + 1,
            bytes: line.as_bytes(),
        };
        events.extend(folder.push(raw));
        offset = end;
    }
    events.extend(folder.finish());
    (events.len() == 1).then(|| events.pop()).flatten()
}
