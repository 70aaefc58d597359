//! The data every stage speaks: files and their metadata, events, exceptions and frames.
//!
//! `Event` serialises to the NDJSON contract of `stackfold fold` (see README.md, "Event
//! format"): field names here are a public interface that later stages and users' scripts rely
//! on, so they are only ever added to, never renamed.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use jiff::Timestamp;
use serde::{Serialize, Serializer};

/// A severity, normalised from the many spellings runtimes use.
///
/// `SEVERE`, `CRITICAL`, `EMERG`, `ALERT` and `CRIT` map to `Fatal`; `WARNING` to `Warn`;
/// `NOTICE`, `AUDIT` and `CONFIG` to `Info`; `FINE*` and `VERBOSE` to `Debug`/`Trace`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
    Fatal,
}

impl Level {
    /// Parses a level word as runtimes print it (upper case, or Android's one letter when
    /// `letter` is true); returns `None` for anything else.
    pub fn from_word(word: &str) -> Option<Level> {
        let level = match word {
            "TRACE" | "FINEST" | "FINER" | "VERBOSE" => Level::Trace,
            "DEBUG" | "FINE" => Level::Debug,
            "INFO" | "NOTICE" | "AUDIT" | "CONFIG" => Level::Info,
            "WARN" | "WARNING" => Level::Warn,
            "ERROR" | "ERR" => Level::Error,
            "FATAL" | "SEVERE" | "CRITICAL" | "CRIT" | "EMERG" | "EMERGENCY" | "ALERT" => {
                Level::Fatal
            }
            _ => return None,
        };
        Some(level)
    }

    /// Parses Android logcat's one-letter priority (`V D I W E F A`).
    pub fn from_letter(letter: u8) -> Option<Level> {
        Some(match letter {
            b'V' => Level::Trace,
            b'D' => Level::Debug,
            b'I' => Level::Info,
            b'W' => Level::Warn,
            b'E' => Level::Error,
            b'F' | b'A' => Level::Fatal,
            _ => return None,
        })
    }

    /// The canonical upper-case name, as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Trace => "TRACE",
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
            Level::Fatal => "FATAL",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Metadata taken from a file's name by the naming convention (GROUPING.md §6).
///
/// Every field is `None` for a file whose name does not follow the convention.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FileMeta {
    pub logtype: Option<String>,
    pub app: Option<String>,
    pub env: Option<String>,
    /// The image tag (release) the service ran.
    pub tag: Option<String>,
    pub host: Option<String>,
    /// The date in the file name, `YYYY-MM-DD`, with `THH` when the name carries an hour.
    pub date: Option<String>,
}

impl FileMeta {
    /// Whether the name followed the convention at all.
    pub fn is_empty(&self) -> bool {
        self.logtype.is_none() && self.app.is_none() && self.date.is_none()
    }
}

/// One input file as every event of it refers to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileInfo {
    /// The path as given or discovered; `-` for standard input.
    pub path: PathBuf,
    pub meta: FileMeta,
    /// Midnight (UTC, or the hour for hourly names) of the file-name date: the timestamp of
    /// events that carry none before any event with one.
    pub date_ts: Option<Timestamp>,
}

/// One log event: a header line and every line that continues it.
///
/// Serialises (by hand, below) to the NDJSON contract: `ts`, `level`, `logger`, `thread`,
/// `message`, `source`, `line`, `meta`, then `offset`, `lines`, `format`, `text`, `truncated`
/// and `continued` when set, and `exception` for an event that holds a trace.
#[derive(Debug, Clone)]
pub struct Event {
    /// When it happened, in UTC; from the header, else the previous event, else the file name.
    pub ts: Option<Timestamp>,
    pub level: Option<Level>,
    pub logger: Option<String>,
    pub thread: Option<String>,
    /// The message of the first line, after its header.
    pub message: String,
    /// The input file, whose path is serialised as `source` and metadata as `meta`.
    pub source: Arc<FileInfo>,
    /// 1-based number of the event's first line in its (decoded) file.
    pub line: u64,
    /// Byte offset of the event's first line in its decoded file.
    pub offset: u64,
    /// Byte offset just past the event's last line (and its line ending): where reading
    /// resumes after this event.
    pub end_offset: u64,
    /// How many lines the event spans.
    pub lines: u32,
    /// The event as it was written: its lines joined by `\n`, line endings normalised.
    pub text: String,
    /// Which header grammar recognised the first line (`none` for a line without header).
    pub format: &'static str,
    /// The event hit the line or byte cap; its remaining lines follow as the next event,
    /// which has `continued` set.
    pub truncated: bool,
    pub continued: bool,
    /// For JSON-lines input: the decoded stack trace field, which `text` holds escaped.
    pub stack_trace: Option<String>,
    /// The lines after the first as trace text, when some continued under a full log header
    /// (OpenStack `TRACE`, logcat): their headers are cut off here so traces parse.
    pub detail: Option<String>,
    pub exception: Option<Exception>,
}

impl Serialize for Event {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("ts", &self.ts.map(|ts| ts.to_string()))?;
        map.serialize_entry("level", &self.level)?;
        map.serialize_entry("logger", &self.logger)?;
        map.serialize_entry("thread", &self.thread)?;
        map.serialize_entry("message", &self.message)?;
        map.serialize_entry("source", &self.source.path.display().to_string())?;
        map.serialize_entry("line", &self.line)?;
        map.serialize_entry("meta", &self.source.meta)?;
        map.serialize_entry("offset", &self.offset)?;
        map.serialize_entry("lines", &self.lines)?;
        map.serialize_entry("format", self.format)?;
        map.serialize_entry("text", &self.text)?;
        if self.truncated {
            map.serialize_entry("truncated", &true)?;
        }
        if self.continued {
            map.serialize_entry("continued", &true)?;
        }
        if let Some(exception) = &self.exception {
            map.serialize_entry("exception", exception)?;
        }
        map.end()
    }
}

impl Event {
    /// The event as trace text: the first line's message, then its continuation lines with any
    /// repeated log headers removed, then a JSON stack-trace field.
    pub fn trace_text(&self) -> std::borrow::Cow<'_, str> {
        if let Some(stack) = &self.stack_trace {
            return format!("{}\n{}", self.message, stack).into();
        }
        if let Some(detail) = &self.detail {
            return format!("{}\n{}", self.message, detail).into();
        }
        match self.text.split_once('\n') {
            Some((_, rest)) => format!("{}\n{}", self.message, rest).into(),
            None => self.message.as_str().into(),
        }
    }

    /// The file-name metadata of the event's source.
    pub fn meta(&self) -> &FileMeta {
        &self.source.meta
    }
}

/// The runtime a trace came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    Java,
    Python,
    Go,
    Other,
}

impl Language {
    /// The lower-case name, as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            Language::Java => "java",
            Language::Python => "python",
            Language::Go => "go",
            Language::Other => "other",
        }
    }
}

/// One stack frame, most recent call first within its exception.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Frame {
    /// Java class, Python module or Go package path.
    pub module: String,
    pub function: String,
    pub file: Option<String>,
    pub line: Option<u32>,
    /// Whether the frame is the application's own code rather than a framework's.
    pub in_app: bool,
}

/// One exception of a chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExceptionInfo {
    /// Fully qualified class, Python type, or for Go `panic`, `fatal error`, `runtime error`.
    #[serde(rename = "type")]
    pub ty: String,
    pub message: String,
    pub frames: Vec<Frame>,
}

/// What an event's trace says, and which group it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Exception {
    pub language: Language,
    /// Outermost exception first; the last is the root cause.
    pub chain: Vec<ExceptionInfo>,
    pub root_type: String,
    /// The root cause's message with variable parts replaced by typed placeholders.
    pub template: String,
    /// 32 hex digits: the group this trace belongs to.
    pub fingerprint: String,
    /// The components hashed into the fingerprint, in order.
    pub explain: Vec<String>,
    /// The version of the grouping rules that made the fingerprint.
    pub grouping_version: u32,
}

impl Exception {
    /// The root cause: the innermost exception of the chain.
    pub fn root(&self) -> &ExceptionInfo {
        self.chain
            .last()
            .expect("a chain holds at least one exception")
    }

    /// The most recent in-app frame of the root cause, else of any exception of the chain.
    pub fn top_in_app_frame(&self) -> Option<&Frame> {
        self.chain
            .iter()
            .rev()
            .find_map(|e| e.frames.iter().find(|f| f.in_app))
    }
}
