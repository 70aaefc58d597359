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
use crate::parse::{ContainerLine, HeaderParser, container_line, strip_ansi};

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
    while let Some(event) = folder.finish() {
        if !emit(event) {
            return FoldOutcome {
                counters: None,
                error,
            };
        }
    }
    FoldOutcome {
        counters: Some(*folder.counters()),
        error,
    }
}

/// The parse and fold stages for one file's lines: a header parser and a folder that keep
/// their state from line to line, so a followed file can be fed as it grows.
///
/// A line a container runtime split because it was longer than its limit (16 KiB by default:
/// CRI's `P` pieces then an `F` one, Docker json-file's `log`s without a newline then one
/// with it) is joined again before it is parsed: a JSON log line holding a long stack trace
/// is read as the one line the container wrote. Its pieces stay the event's text as
/// written, one line each.
#[derive(Debug)]
pub struct LineFolder {
    parser: HeaderParser,
    folder: Folder,
    event_start: Option<Arc<regex::Regex>>,
    split: Option<Split>,
    /// The most a split line may gather before it is folded as it is (the fold stage's cap
    /// on an event's bytes).
    max_split_bytes: usize,
}

/// The pieces of a split line read so far.
#[derive(Debug)]
struct Split {
    /// From the first piece to the end of the last one read.
    span: Span,
    /// The pieces as written, joined by `\n`.
    raw: String,
    /// CRI: the first piece (prefix included, colour codes removed) and the content of the
    /// others, the line as the container wrote it behind the runtime's first prefix. Docker:
    /// the content of every piece.
    joined: String,
    pieces: u32,
    /// Docker's json-file pieces: the first one's stream and time, for the line rebuilt.
    docker: Option<(String, Option<jiff::Timestamp>)>,
}

/// Where a line (or the pieces of a split one) is in the file: as [`Line`] has it.
#[derive(Debug, Clone, Copy)]
struct Span {
    number: u64,
    offset: u64,
    end: u64,
}

/// A piece of a line a container runtime split, as [`LineFolder::push`] reads it.
struct Piece<'a> {
    /// Not the last piece.
    partial: bool,
    content: std::borrow::Cow<'a, str>,
    /// Docker's json-file: the piece's stream and time.
    docker: Option<(String, Option<jiff::Timestamp>)>,
}

/// The piece `line` is, if a split line is open or it starts one; `container` is its CRI
/// prefix, read already. The cheap checks come first, so that a line of a file no runtime
/// wrote costs a byte comparison or two.
fn piece<'a>(
    line: &'a str,
    container: Option<ContainerLine<'a>>,
    split_open: bool,
) -> Option<Piece<'a>> {
    if let Some(c) = container {
        return (c.partial || split_open).then_some(Piece {
            partial: c.partial,
            content: std::borrow::Cow::Borrowed(c.content),
            docker: None,
        });
    }
    let ends = docker_line_ends(line)?;
    if ends && !split_open {
        return None;
    }
    let json = crate::parse::parse_json(line)?;
    let docker = json.docker?;
    Some(Piece {
        partial: !ends,
        content: std::borrow::Cow::Owned(docker.content),
        docker: Some((docker.stream, json.ts)),
    })
}

/// For a line of Docker's json-file driver (`{"log":"...`, the field it writes first),
/// whether its `log` ends with the newline that ends a line the container wrote: the driver
/// splits a longer line into `log`s without one. `None` for any other line. Scans the JSON
/// string for its closing quote without decoding it.
fn docker_line_ends(line: &str) -> Option<bool> {
    let bytes = line.strip_prefix(r#"{"log":""#)?.as_bytes();
    let (mut from, mut newline_until) = (0, usize::MAX);
    loop {
        let at = from + memchr::memchr2(b'\\', b'"', &bytes[from..])?;
        if bytes[at] == b'"' {
            return Some(newline_until == at);
        }
        if bytes.get(at + 1) == Some(&b'n') {
            newline_until = at + 2;
        }
        from = at + 2;
        if from > bytes.len() {
            return None;
        }
    }
}

impl LineFolder {
    /// A folder for the lines of `file`, whose timestamps without an offset are in `zone`
    /// and those without a year in `assume_year` (unless the file name has a date).
    pub fn new(file: &Arc<FileInfo>, fold: FoldSettings, zone: TimeZone, assume_year: i16) -> Self {
        let file_date = file.date_ts.map(|ts| ts.to_zoned(zone.clone()).date());
        LineFolder {
            parser: HeaderParser::new(zone, assume_year, file_date),
            max_split_bytes: fold.max_event_bytes,
            folder: Folder::new(fold, Arc::clone(file)),
            event_start: None,
            split: None,
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
        let container = container_line(&clean);
        let piece = piece(&clean, container, self.split.is_some());
        let partial = piece.as_ref().is_some_and(|p| p.partial);
        if !partial && self.split.is_none() {
            let span = Span {
                number: raw.number,
                offset: raw.offset,
                end: raw.end,
            };
            return self.fold(span, &text, &clean, container, 1);
        }
        let split = match &mut self.split {
            Some(split) => {
                split.raw.push('\n');
                split.raw.push_str(&text);
                // A line after a piece ends the line, whatever it is.
                split
                    .joined
                    .push_str(piece.as_ref().map_or(&*clean, |p| &p.content));
                split.pieces += 1;
                split.span.end = raw.end;
                split
            }
            None => {
                let piece = piece.expect("a line that starts a split is a piece");
                let joined = match piece.docker {
                    Some(_) => piece.content.into_owned(),
                    None => clean.to_string(),
                };
                self.split.insert(Split {
                    span: Span {
                        number: raw.number,
                        offset: raw.offset,
                        end: raw.end,
                    },
                    raw: text.to_string(),
                    joined,
                    pieces: 1,
                    docker: piece.docker,
                })
            }
        };
        if partial && split.raw.len() < self.max_split_bytes {
            return None;
        }
        let split = self.split.take().expect("a split line is open");
        self.fold_split(split)
    }

    fn fold_split(&mut self, split: Split) -> Option<Event> {
        // Docker's pieces make one json-file line again, with the first piece's stream and time.
        let docker_line = split.docker.as_ref().map(|(stream, ts)| {
            let mut line = serde_json::json!({"log": split.joined, "stream": stream});
            if let Some(ts) = ts {
                line["time"] = ts.to_string().into();
            }
            line.to_string()
        });
        let clean = docker_line.as_deref().unwrap_or(&split.joined);
        self.fold(
            split.span,
            &split.raw,
            clean,
            container_line(clean),
            split.pieces,
        )
    }

    /// Parses and folds one line (or the pieces of a split one) at `span`: `clean` is it
    /// without colour codes (joined again, for a split one), `container` its CRI prefix.
    fn fold<'a>(
        &mut self,
        span: Span,
        raw: &'a str,
        clean: &'a str,
        container: Option<ContainerLine<'a>>,
        pieces: u32,
    ) -> Option<Event> {
        let header = self.parser.parse_read(clean, container).or_else(|| {
            let starts = self.event_start.as_ref().is_some_and(|r| r.is_match(clean));
            starts.then(|| crate::parse::Header::started(clean))
        });
        self.folder.push(Line {
            number: span.number,
            offset: span.offset,
            end: span.end,
            raw,
            pieces,
            header,
        })
    }

    /// Closes the open event, if any: at the end of input, or when a followed file has been
    /// quiet for a while. Lines pushed later start a new event. Call it until it returns
    /// `None`: the pieces of a split line whose last piece never came are folded as they
    /// are, which may close the event before them first.
    pub fn finish(&mut self) -> Option<Event> {
        if let Some(split) = self.split.take()
            && let Some(closed) = self.fold_split(split)
        {
            return Some(closed);
        }
        self.folder.finish()
    }

    /// Whether an event is open (lines pushed but not yet returned).
    pub fn has_open_event(&self) -> bool {
        self.split.is_some() || self.folder.has_open_event()
    }

    pub fn counters(&self) -> &FoldCounters {
        self.folder.counters()
    }
}

/// The event `text` (an event's lines, joined by `\n`) folds into on its own through
/// `folder`, or `None` when it folds into more than one: what re-grouping reads an indexed
/// event's trace from (a JSON line's stack field, lines under repeated headers), since the
/// index keeps the text as written, not the trace as folding found it.
pub fn refold(folder: LineFolder, text: &str) -> Option<Event> {
    let mut events = fold_all(folder, text.split('\n'));
    (events.len() == 1).then(|| events.pop()).flatten()
}

/// Every event `lines` (a file's, from its start) fold into through `folder`.
fn fold_all<'a>(mut folder: LineFolder, lines: impl IntoIterator<Item = &'a str>) -> Vec<Event> {
    let mut events = Vec::new();
    let mut offset = 0u64;
    for (i, line) in lines.into_iter().enumerate() {
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
    while let Some(event) = folder.finish() {
        events.push(event);
    }
    events
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every event `lines` folds into, analysed, the way a file is read.
    fn fold_analysed(lines: &[String]) -> Vec<Event> {
        let file = Arc::new(FileInfo {
            path: "0.log".into(),
            meta: Default::default(),
            date_ts: None,
        });
        let folder = LineFolder::new(&file, FoldSettings::default(), TimeZone::UTC, 2020);
        let mut events = fold_all(folder, lines.iter().map(String::as_str));
        let analyzer = crate::fold::Analyzer::default();
        for event in &mut events {
            analyzer.analyse(event);
        }
        events
    }

    /// A logstash-logback-encoder line whose `stack_trace` has 400 frames (over 16 KiB).
    fn json_with_a_long_trace() -> String {
        let frames: String = (0..400)
            .map(|i| format!("\\n\\tat com.acme.Orders.step{i}(Orders.java:{i})"))
            .collect();
        format!(
            r#"{{"level":"ERROR","logger_name":"com.acme.Orders","message":"failed","stack_trace":"java.lang.IllegalStateException: boom{frames}"}}"#
        )
    }

    /// containerd cuts a line longer than 16 KiB into `P` pieces and a last `F` one: a JSON
    /// log line holding a long Java trace, cut inside its JSON, is read as the one line it was.
    #[test]
    fn a_line_the_runtime_split_is_read_as_one() {
        let json = json_with_a_long_trace();
        let prefix = |flag| format!("2024-03-01T10:00:01.000000001Z stderr {flag} ");
        let pieces: Vec<&str> = json
            .as_bytes()
            .chunks(4096)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        assert!(pieces.len() > 3);
        let mut lines = vec![format!(
            "{}2024-03-01 10:00:00,000 INFO [main] com.acme.App - before",
            prefix('F')
        )];
        for (i, piece) in pieces.iter().enumerate() {
            let flag = if i + 1 == pieces.len() { 'F' } else { 'P' };
            lines.push(format!("{}{piece}", prefix(flag)));
        }
        lines.push(format!("{}after", prefix('F')));
        let events = fold_analysed(&lines);
        let got: Vec<u32> = events.iter().map(|e| e.lines).collect();
        assert_eq!(got, [1, pieces.len() as u32, 1]);
        let split = &events[1];
        assert_eq!(
            split.text,
            lines[1..=pieces.len()].join("\n"),
            "the pieces as written"
        );
        assert_eq!(
            (split.format, split.level),
            ("json", Some(crate::event::Level::Error))
        );
        let exception = split
            .exception
            .as_ref()
            .expect("the trace in the joined JSON");
        assert_eq!(exception.root_type, "java.lang.IllegalStateException");
        assert_eq!(exception.chain[0].frames.len(), 400);
        assert_eq!(
            events[2].line,
            2 + pieces.len() as u64,
            "line numbers go on"
        );

        // A file that ends inside a split line keeps its pieces.
        let cut = &lines[..3];
        let events = fold_analysed(cut);
        let joined: Vec<&str> = events.iter().map(|e| e.text.as_str()).collect();
        assert_eq!(joined.join("\n"), cut.join("\n"));
        assert_eq!(events.last().unwrap().lines, 2);
    }

    /// Docker's json-file driver cuts a line longer than 16 KiB into `log`s without a newline
    /// and a last one with it: they are joined the same way.
    #[test]
    fn a_line_dockers_json_file_split_is_read_as_one() {
        let json = json_with_a_long_trace();
        let pieces: Vec<String> = json
            .as_bytes()
            .chunks(4096)
            .map(|c| std::str::from_utf8(c).unwrap().to_owned())
            .collect();
        let docker = |log: &str| {
            serde_json::json!({"log": log, "stream": "stderr", "time": "2024-03-01T10:00:01.000000001Z"})
                .to_string()
        };
        let mut lines = vec![docker(
            "2024-03-01 10:00:00,000 INFO [main] com.acme.App - before\n",
        )];
        for (i, piece) in pieces.iter().enumerate() {
            let newline = if i + 1 == pieces.len() { "\n" } else { "" };
            lines.push(docker(&format!("{piece}{newline}")));
        }
        lines.push(docker("after\n"));
        let events = fold_analysed(&lines);
        let got: Vec<u32> = events.iter().map(|e| e.lines).collect();
        assert_eq!(got, [1, pieces.len() as u32, 1]);
        let split = &events[1];
        assert_eq!(split.text, lines[1..=pieces.len()].join("\n"));
        assert_eq!(
            (split.format, split.level),
            ("json", Some(crate::event::Level::Error))
        );
        assert_eq!(
            split.ts.unwrap().to_string(),
            "2024-03-01T10:00:01.000000001Z"
        );
        let exception = split
            .exception
            .as_ref()
            .expect("the trace in the joined JSON");
        assert_eq!(exception.chain[0].frames.len(), 400);
    }

    #[test]
    fn a_json_file_line_says_whether_it_ends_a_line() {
        for (line, ends) in [
            (r#"{"log":"a\n","stream":"stdout"}"#, Some(true)),
            (r#"{"log":"a","stream":"stdout"}"#, Some(false)),
            (r#"{"log":"a\"\n","stream":"stdout"}"#, Some(true)),
            // A backslash, then an `n`: not a newline.
            (r#"{"log":"a\\n","stream":"stdout"}"#, Some(false)),
            (r#"{"log":"\n\ta","stream":"stdout"}"#, Some(false)),
            (r#"{"log":"a\n"#, None),
            (r#"{"level":"info","log":"a"}"#, None),
        ] {
            assert_eq!(docker_line_ends(line), ends, "{line}");
        }
    }
}
