//! The folding state machine: lines (with their parsed headers) into events.

use std::collections::BTreeMap;
use std::sync::Arc;

use jiff::Timestamp;

use super::trace::{Kind, classify, exception_group_inner, is_rails_exception};
use crate::event::{Event, FileInfo, Level};
use crate::parse::Header;

/// Default cap on the lines of one event. Logstash's multiline codec stops at 500 and
/// Promtail at 128; real JVM traces with long `Caused by` chains reach a few hundred lines,
/// and a goroutine dump of a busy Go server several thousand. Too small splits real traces,
/// too large lets one runaway "event" hold megabytes in memory.
pub const DEFAULT_MAX_EVENT_LINES: u32 = 5_000;
/// Default cap on the bytes of one event's text (Logstash: 10 MiB). One event is held whole
/// in memory and indexed as one document, so this bounds both.
pub const DEFAULT_MAX_EVENT_BYTES: usize = 1 << 20;

/// Limits of the fold stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FoldSettings {
    /// Lines per event before it is cut and marked truncated.
    pub max_event_lines: u32,
    /// Bytes of text per event before it is cut and marked truncated.
    pub max_event_bytes: usize,
}

impl Default for FoldSettings {
    fn default() -> Self {
        FoldSettings {
            max_event_lines: DEFAULT_MAX_EVENT_LINES,
            max_event_bytes: DEFAULT_MAX_EVENT_BYTES,
        }
    }
}

/// One input line as the fold stage sees it.
#[derive(Debug, Clone)]
pub struct Line<'a> {
    /// 1-based line number in the decoded file.
    pub number: u64,
    /// Byte offset of the line in the decoded file.
    pub offset: u64,
    /// Byte offset of the next line: this one's offset plus its length and line ending.
    pub end: u64,
    /// The line as written, without its line ending. A line a container runtime split
    /// (see [`crate::read::LineFolder`]) is its pieces as written, joined by `\n`.
    pub raw: &'a str,
    /// How many lines of the file `raw` is: 1, or the pieces of a split line.
    pub pieces: u32,
    /// Its header, if the parse stage recognised one.
    pub header: Option<Header<'a>>,
}

/// What the fold stage counts for one file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FoldCounters {
    pub lines: u64,
    pub events: u64,
    /// Events whose first line had no recognised header (kept, with the previous timestamp).
    pub headerless_events: u64,
    /// Events cut at the line or byte cap.
    pub truncated_events: u64,
    /// Lines that carried a full log header but continued a trace (OpenStack `TRACE`, logcat).
    pub prefixed_continuations: u64,
}

impl FoldCounters {
    /// Adds `other` into `self`.
    pub fn add(&mut self, other: &FoldCounters) {
        self.lines += other.lines;
        self.events += other.events;
        self.headerless_events += other.headerless_events;
        self.truncated_events += other.truncated_events;
        self.prefixed_continuations += other.prefixed_continuations;
    }
}

/// Which runtime's trace the open event is in the middle of, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Context {
    None,
    /// A JVM trace, or another runtime's frames (Node.js, .NET, Ruby, PHP).
    Java,
    /// In a Python traceback, before (`true`) or after its final exception line.
    Python {
        in_frames: bool,
    },
    /// A Go or Rust panic: every line up to the next header belongs to it.
    Go,
}

#[derive(Debug)]
struct Open {
    event: Event,
    has_header: bool,
    context: Context,
    origin: Option<String>,
    /// The time of the last header folded in, for the same-second rule.
    last_header_ts: Option<Timestamp>,
}

/// Folds one stream's lines into events (docs/grouping.md §1).
///
/// Push lines in order with [`Folder::push`]; each call returns the event that the line
/// closed, if any. [`Folder::finish`] returns the last one at end of input. No line is ever
/// dropped: the concatenated `text` of all events, each followed by `\n`, is the input with
/// line endings normalised to `\n`.
#[derive(Debug)]
pub struct Folder {
    settings: FoldSettings,
    file: Arc<FileInfo>,
    open: Option<Open>,
    last_ts: Option<Timestamp>,
    counters: FoldCounters,
}

impl Folder {
    /// A folder for the lines of `file`.
    pub fn new(settings: FoldSettings, file: Arc<FileInfo>) -> Self {
        let last_ts = file.date_ts;
        Folder {
            settings,
            file,
            open: None,
            last_ts,
            counters: FoldCounters::default(),
        }
    }

    /// What was counted so far.
    pub fn counters(&self) -> &FoldCounters {
        &self.counters
    }

    /// Adds the next line; returns the event it closed, if any.
    pub fn push(&mut self, mut line: Line<'_>) -> Option<Event> {
        self.counters.lines += u64::from(line.pieces);
        if let Some(open) = self.open.as_ref()
            && is_jul_level_line(open, &line)
        {
            line.header = None;
        }
        // What kind of trace line the line's content is: asked once per line, as it runs
        // on every line of every file.
        let kind = classify(line.header.as_ref().map_or(line.raw, |h| &h.message));
        let Some(open) = self.open.as_mut() else {
            self.start(line, kind);
            return None;
        };
        let continues = match &line.header {
            Some(header) => {
                let prefixed = continues_under_header(open, header, kind);
                if prefixed {
                    self.counters.prefixed_continuations += 1;
                }
                prefixed
            }
            None => continues_without_header(open, kind),
        };
        if !continues {
            let done = self.open.take().map(|o| o.event);
            self.start(line, kind);
            return done;
        }
        if self.fits(&line) {
            append(self.open.as_mut().expect("an event is open"), line, kind);
            return None;
        }
        let mut full = self.open.take().expect("an event is open");
        full.event.truncated = true;
        self.counters.truncated_events += 1;
        let done = full.event;
        self.start_continued(&done, full.context, line);
        Some(done)
    }

    /// Closes and returns the open event at end of input.
    ///
    /// It may be called at any time, not only at the end: a follower calls it when a file
    /// has been quiet for its idle timeout, so the last event of a quiet file is not held
    /// back until the next line. Lines pushed afterwards start a new event.
    pub fn finish(&mut self) -> Option<Event> {
        self.open.take().map(|o| o.event)
    }

    /// Whether lines were pushed that no returned event holds yet.
    pub fn has_open_event(&self) -> bool {
        self.open.is_some()
    }

    fn fits(&self, line: &Line<'_>) -> bool {
        let open = self.open.as_ref().expect("an event is open");
        open.event.lines + line.pieces <= self.settings.max_event_lines
            && open.event.text.len() + 1 + line.raw.len() <= self.settings.max_event_bytes
    }

    fn start(&mut self, line: Line<'_>, kind: Kind) {
        self.counters.events += 1;
        let has_header = line.header.is_some();
        if !has_header {
            self.counters.headerless_events += 1;
        }
        let mut event = Event {
            ts: self.last_ts,
            level: None,
            logger: None,
            thread: None,
            // The line's own, or the header's below: made once.
            message: match line.header {
                Some(_) => String::new(),
                None => line.raw.to_owned(),
            },
            source: Arc::clone(&self.file),
            line: line.number,
            offset: line.offset,
            end_offset: line.end,
            lines: line.pieces,
            text: line.raw.to_owned(),
            format: "none",
            truncated: false,
            continued: false,
            stack_trace: None,
            detail: None,
            exception: None,
            pattern: None,
            fields: BTreeMap::new(),
        };
        let mut origin = None;
        let mut last_header_ts = None;
        let mut context = context_after(Context::None, kind, line.raw);
        if let Some(h) = line.header {
            if h.ts.is_some() {
                self.last_ts = h.ts;
                event.ts = h.ts;
            }
            event.level = h.level;
            event.logger = h.logger.map(|s| s.into_owned());
            event.thread = h.thread.map(|s| s.into_owned());
            event.format = h.format;
            context = context_after(Context::None, kind, &h.message);
            event.message = h.message.into_owned();
            event.stack_trace = h.stack_trace;
            origin = h.origin.map(|s| s.into_owned());
            last_header_ts = h.ts;
        }
        self.open = Some(Open {
            event,
            has_header,
            context,
            origin,
            last_header_ts,
        });
    }

    /// Opens the event that carries on after `cut`, which hit a cap.
    fn start_continued(&mut self, cut: &Event, context: Context, line: Line<'_>) {
        self.counters.events += 1;
        let content = line
            .header
            .as_ref()
            .map_or(line.raw, |h| &h.message)
            .to_owned();
        let event = Event {
            message: content,
            line: line.number,
            offset: line.offset,
            end_offset: line.end,
            lines: line.pieces,
            text: line.raw.to_owned(),
            truncated: false,
            continued: true,
            stack_trace: None,
            detail: None,
            exception: None,
            pattern: None,
            ..cut.clone_header()
        };
        self.open = Some(Open {
            event,
            has_header: true,
            context,
            origin: None,
            last_header_ts: None,
        });
    }
}

impl Event {
    /// A copy of the header fields only (time, level, logger, thread, source, format).
    fn clone_header(&self) -> Event {
        Event {
            ts: self.ts,
            level: self.level,
            logger: self.logger.clone(),
            thread: self.thread.clone(),
            message: String::new(),
            source: Arc::clone(&self.source),
            line: self.line,
            offset: self.offset,
            end_offset: self.end_offset,
            lines: 0,
            text: String::new(),
            format: self.format,
            truncated: false,
            continued: false,
            stack_trace: None,
            detail: None,
            exception: None,
            pattern: None,
            fields: BTreeMap::new(),
        }
    }
}

/// Appends a continuation line to the open event.
fn append(open: &mut Open, line: Line<'_>, kind: Kind) {
    let event = &mut open.event;
    if event.lines == 1 && event.format == "jul" && event.level.is_none() && line.header.is_none() {
        jul_level_line(event, line.raw);
    }
    let content: &str = line.header.as_ref().map_or(line.raw, |h| &h.message);
    if line.header.is_some() && event.detail.is_none() {
        let continuation = event.text.split_once('\n').map_or("", |(_, rest)| rest);
        event.detail = Some(continuation.to_owned());
    }
    if let Some(detail) = event.detail.as_mut() {
        if event.lines > 1 {
            detail.push('\n');
        }
        detail.push_str(content);
    }
    event.lines += line.pieces;
    event.end_offset = line.end;
    event.text.push('\n');
    event.text.push_str(line.raw);
    if let Some(h) = &line.header {
        open.last_header_ts = h.ts.or(open.last_header_ts);
    }
    open.context = context_after(open.context, kind, content);
}

/// java.util.logging's second line, `WARNING: msg`, which on its own reads as a level-only
/// header (uvicorn's `WARNING:  msg`): under a JUL first line still without level, it is that
/// event's level line.
fn is_jul_level_line(open: &Open, line: &Line<'_>) -> bool {
    let event = &open.event;
    event.format == "jul"
        && event.lines == 1
        && event.level.is_none()
        && line.header.as_ref().is_some_and(|h| h.format == "level")
}

/// java.util.logging's second line, `SEVERE: msg`, carries the level and message.
fn jul_level_line(event: &mut Event, raw: &str) {
    if let Some((word, message)) = raw.split_once(": ")
        && let Some(level) = Level::from_word(word)
    {
        event.level = Some(level);
        event.message = message.to_owned();
    }
}

/// Whether a line without header continues the open event (docs/grouping.md §1).
fn continues_without_header(open: &Open, kind: Kind) -> bool {
    if kind.starts_event() {
        return false;
    }
    if kind == Kind::GoGoroutine {
        return open.context == Context::Go || open.has_header;
    }
    if open.has_header || kind.is_trace_line() {
        return true;
    }
    match (kind, open.context) {
        (_, Context::Go) => true,
        (Kind::Blank | Kind::Indented, Context::None) => false,
        (Kind::Blank | Kind::Indented, _) => true,
        (_, Context::Python { in_frames }) => in_frames,
        _ => false,
    }
}

/// Whether a line with its own full header is really the next line of the open event's
/// trace: same writer, same second, and a body that is a trace continuation.
fn continues_under_header(open: &Open, header: &Header<'_>, kind: Kind) -> bool {
    let same_origin = match (&open.origin, &header.origin) {
        (Some(a), Some(b)) => a == b.as_ref(),
        _ => false,
    };
    let same_second = match (open.last_header_ts, header.ts) {
        (Some(a), Some(b)) => (b.as_second() - a.as_second()).abs() <= 1,
        (None, None) => true,
        _ => false,
    };
    // A line that raises the severity starts an event of its own (vdsm's `ERROR ...
    // Traceback` after an INFO line); OpenStack's `TRACE` lines sit below their `ERROR`.
    let raises_level = match (open.event.level, header.level) {
        (Some(open_level), Some(level)) => level > open_level,
        (None, Some(_)) => true,
        _ => false,
    };
    if !same_origin || !same_second || raises_level {
        return false;
    }
    match (kind, open.context) {
        (k, _) if k.starts_event() => false,
        (k, _) if k.is_trace_line() => true,
        // A Go panic written through a logger, every line prefixed (go-hclog, Packer and
        // Terraform plugins): the calls between the locations.
        (Kind::Other, Context::Go) => is_go_call(&header.message),
        (Kind::Blank | Kind::Indented, Context::None) => false,
        (Kind::Blank | Kind::Indented, _) => true,
        (_, Context::Python { in_frames }) => in_frames,
        _ => false,
    }
}

/// `pkg.fn(args)` or `pkg.(*T).fn(...)`: the call line of a Go frame.
fn is_go_call(message: &str) -> bool {
    let t = message.trim_end();
    t.ends_with(')')
        && (!t.contains(' ') || t.contains(", "))
        && t.split_once('(')
            .is_some_and(|(name, _)| name.contains('.'))
}

/// The trace context after a line of `kind`.
fn context_after(context: Context, kind: Kind, line: &str) -> Context {
    match kind {
        Kind::JavaFrame
        | Kind::JavaCause
        | Kind::JavaSuppressed
        | Kind::JavaMore
        | Kind::JavaException
        | Kind::JavaUncaught => Context::Java,
        // Inside a Rust panic, `at /rustc/...:597:5` reads as a Node.js location: still the dump.
        Kind::NodeFrame if context == Context::Go => Context::Go,
        Kind::NodeFrame
        | Kind::DotnetFrame
        | Kind::DotnetMarker
        | Kind::RubyFrame
        | Kind::RubyUncaught
        | Kind::PhpFrame
        | Kind::PhpFatal
        | Kind::DotnetUnhandled => Context::Java,
        Kind::PyTraceback | Kind::PyFrame | Kind::PyChain => Context::Python { in_frames: true },
        // Rails writes a line of white space between the exception and its frames.
        Kind::Other | Kind::Indented if is_rails_exception(line) => Context::Java,
        // Inside an exception group's markers, the line within says where the trace is.
        Kind::PyGroup => {
            let inner = exception_group_inner(line.trim_start()).unwrap_or("");
            let python = match context {
                Context::Python { .. } => context,
                _ => Context::Python { in_frames: true },
            };
            match classify(inner) {
                Kind::Blank => python,
                kind => context_after(python, kind, inner),
            }
        }
        // A Rust panic, like a Go one, is a dump whose every line belongs to it.
        // A Node.js crash report (source line, caret, blank, the error, its frames, the
        // version) is such a dump too.
        Kind::GoPanic
        | Kind::GoGoroutine
        | Kind::GoSignal
        | Kind::RustPanic
        | Kind::RustFrame
        | Kind::NodeUncaught => Context::Go,
        Kind::Other => match context {
            Context::Python { in_frames: true } => Context::Python { in_frames: false },
            Context::Python { .. } | Context::Java if !line.is_empty() => context,
            other => other,
        },
        _ => context,
    }
}
