//! The data every stage speaks: files and their metadata, events, exceptions and frames.
//!
//! `Event` serialises to the NDJSON contract of `stackfold fold` (see README.md, "Event
//! format"): field names here are a public interface that later stages and users' scripts rely
//! on, so they are only ever added to, never renamed.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use jiff::Timestamp;
use serde::{Deserialize, Serialize, Serializer};

/// A severity, normalised from the many spellings runtimes use.
///
/// `SEVERE`, `CRITICAL`, `EMERG`, `ALERT` and `CRIT` map to `Fatal`; `WARNING` to `Warn`;
/// `NOTICE`, `AUDIT` and `CONFIG` to `Info`; `FINE*` and `VERBOSE` to `Debug`/`Trace`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
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
    /// Every level, least severe first.
    pub const ALL: [Level; 6] = [
        Level::Trace,
        Level::Debug,
        Level::Info,
        Level::Warn,
        Level::Error,
        Level::Fatal,
    ];

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

/// Metadata taken from a file's name by the naming convention (docs/grouping.md §6).
///
/// Every field is `None` for a file whose name does not follow the convention.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
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
/// Serialises as its [`EventRecord`], the NDJSON contract.
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
    /// For an event without an exception: the kind of line it is (see
    /// [`crate::fold::pattern`]).
    pub pattern: Option<Pattern>,
    /// What a shipper sent with the event that maps to none of the fields above (flattened,
    /// dotted keys): kept and shown, not searched.
    pub fields: BTreeMap<String, String>,
}

/// The kind of line an event without an exception is: its message's template and an id
/// hashed from it (16 hex digits), the same wherever and whenever the line is read.
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pattern {
    pub id: String,
    pub template: String,
    /// The template comes from the config's `[patterns]` (a mask or a pinned template), not
    /// from the message alone: the index keeps it, since it cannot be computed again without
    /// that config.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub custom: bool,
}

impl Clone for Pattern {
    fn clone(&self) -> Self {
        Pattern {
            id: self.id.clone(),
            template: self.template.clone(),
            custom: self.custom,
        }
    }

    /// Into the buffers `self` has already (a derived `clone_from` would allocate new ones).
    fn clone_from(&mut self, source: &Self) {
        self.id.clone_from(&source.id);
        self.template.clone_from(&source.template);
        self.custom = source.custom;
    }
}

impl Serialize for Event {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.record().serialize(s)
    }
}

/// An event as the NDJSON contract of `stackfold fold` writes it, and as the index gives it
/// back: `ts`, `level`, `logger`, `thread`, `message`, `source`, `line`, `meta`, `offset`,
/// `lines`, `format`, `text`, then `truncated` and `continued` when set and `exception` for an
/// event that holds a trace. The one list of the contract's fields: `fold` writes it borrowed
/// from an [`Event`], the read side owns it (`EventRecord<'static>`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventRecord<'a> {
    /// RFC 3339, UTC.
    pub ts: Option<Timestamp>,
    pub level: Option<Level>,
    pub logger: Option<Cow<'a, str>>,
    pub thread: Option<Cow<'a, str>>,
    pub message: Cow<'a, str>,
    /// The input path (`-` for standard input).
    pub source: Cow<'a, str>,
    pub line: u64,
    pub meta: Cow<'a, FileMeta>,
    pub offset: u64,
    pub lines: u32,
    pub format: Cow<'a, str>,
    pub text: Cow<'a, str>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub truncated: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub continued: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exception: Option<Cow<'a, Exception>>,
    /// The event's pattern, when it has no exception; computed again from the message when
    /// read from the index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<Cow<'a, Pattern>>,
    /// A shipped event's other fields (see [`Event::fields`]); absent when there are none.
    #[serde(default, skip_serializing_if = "is_empty")]
    pub fields: Cow<'a, BTreeMap<String, String>>,
}

fn is_false(value: &bool) -> bool {
    !value
}

fn is_empty(fields: &impl std::ops::Deref<Target = BTreeMap<String, String>>) -> bool {
    fields.is_empty()
}

impl EventRecord<'_> {
    /// The searchable body: the first line's message, then the continuation lines.
    pub fn body(&self) -> String {
        match self.text.split_once('\n') {
            Some((_, rest)) => format!("{}\n{rest}", self.message),
            None => self.message.clone().into_owned(),
        }
    }
}

impl Event {
    /// A one-line event of `message` in `/logs/app.log`, without time or level: for tests,
    /// which set what they need on top.
    #[cfg(test)]
    pub(crate) fn sample(message: &str) -> Event {
        Event {
            ts: None,
            level: None,
            logger: None,
            thread: None,
            message: message.into(),
            source: Arc::new(FileInfo {
                path: "/logs/app.log".into(),
                meta: FileMeta::default(),
                date_ts: None,
            }),
            line: 1,
            offset: 0,
            end_offset: 0,
            lines: 1,
            text: message.into(),
            format: "iso",
            truncated: false,
            continued: false,
            stack_trace: None,
            detail: None,
            exception: None,
            pattern: None,
            fields: Default::default(),
        }
    }

    /// The event in the NDJSON contract, borrowing its text.
    pub fn record(&self) -> EventRecord<'_> {
        EventRecord {
            ts: self.ts,
            level: self.level,
            logger: self.logger.as_deref().map(Cow::Borrowed),
            thread: self.thread.as_deref().map(Cow::Borrowed),
            message: Cow::Borrowed(&self.message),
            source: self.source.path.to_string_lossy(),
            line: self.line,
            meta: Cow::Borrowed(&self.source.meta),
            offset: self.offset,
            lines: self.lines,
            format: Cow::Borrowed(self.format),
            text: Cow::Borrowed(&self.text),
            truncated: self.truncated,
            continued: self.continued,
            exception: self.exception.as_ref().map(Cow::Borrowed),
            pattern: self.pattern.as_ref().map(Cow::Borrowed),
            fields: Cow::Borrowed(&self.fields),
        }
    }

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    Java,
    Python,
    Go,
    /// Node.js (V8 stack traces).
    Javascript,
    /// .NET (C#, F#, VB).
    Dotnet,
    Ruby,
    Php,
    Rust,
    Other,
}

impl Language {
    /// The lower-case name, as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            Language::Java => "java",
            Language::Python => "python",
            Language::Go => "go",
            Language::Javascript => "javascript",
            Language::Dotnet => "dotnet",
            Language::Ruby => "ruby",
            Language::Php => "php",
            Language::Rust => "rust",
            Language::Other => "other",
        }
    }
}

/// One stack frame, most recent call first within its exception.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Frame {
    /// Java class, Python module, Go package path, .NET type, PHP class, Rust path; for
    /// Node.js and Ruby, the source file's last two path parts without extension.
    pub module: String,
    pub function: String,
    pub file: Option<String>,
    pub line: Option<u32>,
    /// Whether the frame is the application's own code rather than a framework's.
    pub in_app: bool,
}

/// An exception's frames, shared by the events whose traces hold the same frame lines: a
/// service logs the same trace again and again with other messages, and its frames are read
/// once and shared rather than copied and freed with every event (issue 17). Reads as a
/// `Vec<Frame>`; [`Frames::to_mut`] copies them first when they are shared.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frames(Arc<Vec<Frame>>);

impl Frames {
    /// The frames to change, copied first if another exception shares them.
    pub fn to_mut(&mut self) -> &mut Vec<Frame> {
        Arc::make_mut(&mut self.0)
    }

    /// Whether `self` and `other` are the same frames, not copies.
    pub fn is_shared_with(&self, other: &Frames) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// A number that names these frames, not copies of them, while they are kept.
    pub fn identity(&self) -> usize {
        Arc::as_ptr(&self.0) as usize
    }
}

impl std::ops::Deref for Frames {
    type Target = Vec<Frame>;

    fn deref(&self) -> &Vec<Frame> {
        &self.0
    }
}

impl<'a> IntoIterator for &'a Frames {
    type Item = &'a Frame;
    type IntoIter = std::slice::Iter<'a, Frame>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl From<Vec<Frame>> for Frames {
    fn from(frames: Vec<Frame>) -> Self {
        Frames(Arc::new(frames))
    }
}

impl PartialEq<Vec<Frame>> for Frames {
    fn eq(&self, other: &Vec<Frame>) -> bool {
        *self.0 == *other
    }
}

impl Serialize for Frames {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Frames {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Vec::<Frame>::deserialize(d).map(Frames::from)
    }
}

/// One exception of a chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExceptionInfo {
    /// Fully qualified class, Python type, or for Go `panic`, `fatal error`, `runtime error`.
    #[serde(rename = "type")]
    pub ty: String,
    pub message: String,
    pub frames: Frames,
}

impl ExceptionInfo {
    /// An exception of type `ty` with `message`, frames to come.
    pub fn new(ty: &str, message: &str) -> Self {
        ExceptionInfo {
            ty: ty.to_owned(),
            message: message.to_owned(),
            frames: Frames::default(),
        }
    }
}

/// What an event's trace says, and which group it belongs to.
#[derive(Debug, Clone, Serialize, Deserialize)]
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
    /// Made by the standard analysis (no grouping rules, in-app lists or `event_start` of
    /// one's own): reading the event back finds it again in its text, so the index does not
    /// store it. How it was made, not what it says: equality ignores it.
    #[serde(skip)]
    pub recomputable: bool,
}

/// Two exceptions are equal when they say the same, whichever analysis made them.
impl PartialEq for Exception {
    fn eq(&self, other: &Exception) -> bool {
        let Exception {
            language,
            chain,
            root_type,
            template,
            fingerprint,
            explain,
            grouping_version,
            recomputable: _,
        } = other;
        self.language == *language
            && self.chain == *chain
            && self.root_type == *root_type
            && self.template == *template
            && self.fingerprint == *fingerprint
            && self.explain == *explain
            && self.grouping_version == *grouping_version
    }
}

impl Eq for Exception {}

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
