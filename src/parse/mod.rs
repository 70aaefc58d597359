//! Stage 3, parse: recognises a line's header and turns its timestamp into UTC.
//!
//! In: one line of text (no line ending). Out: a [`Header`] when the line starts an event in
//! one of the known layouts, `None` otherwise (a continuation line, or a line nobody
//! recognises, which the fold stage keeps and counts). No configuration is needed: the
//! grammars are chosen by the line's first bytes. A [`HeaderParser`] is per file and keeps the
//! little state a file needs (the last date, for time-only headers).

mod header;
mod json;
mod rest;
pub mod time;

use std::borrow::Cow;

use jiff::Timestamp;
use jiff::civil;
use jiff::tz::TimeZone;
use nom::Parser;
use nom::bytes::complete::{tag, take_while};
use nom::sequence::preceded;

use crate::event::Level;
pub use header::{ContainerLine, RawHeader, container_line, raw_header};
pub use json::{JsonHeader, parse_json};
pub use rest::{Rest, is_dotted_name, parse_rest};
use time::TimeResolver;

/// A recognised log header.
#[derive(Debug, Clone, PartialEq)]
pub struct Header<'a> {
    /// Which grammar matched: `iso`, `bracketed`, `celery`, `tomcat`, `jul`, `time`, `logcat`,
    /// `syslog3164`, `syslog5424`, `vdsm`, `apache`, `level`, `json`, `cri` and `docker` for a
    /// container runtime's line whose content has no header of its own, and `start` for a
    /// line that only `[fold] event_start` recognised.
    pub format: &'static str,
    pub ts: Option<Timestamp>,
    pub level: Option<Level>,
    pub logger: Option<Cow<'a, str>>,
    pub thread: Option<Cow<'a, str>>,
    /// The message after the header; continuation lines under a repeated header keep their
    /// indentation here.
    pub message: Cow<'a, str>,
    /// Who wrote the line (syslog host and program, logcat pid/tid/tag), else the logger.
    pub origin: Option<Cow<'a, str>>,
    /// A JSON line's stack-trace field.
    pub stack_trace: Option<String>,
}

impl<'a> Header<'a> {
    /// The same header, owning what it borrowed.
    pub fn into_owned(self) -> Header<'static> {
        let owned = |c: Cow<'_, str>| Cow::Owned(c.into_owned());
        Header {
            format: self.format,
            ts: self.ts,
            level: self.level,
            logger: self.logger.map(owned),
            thread: self.thread.map(owned),
            message: owned(self.message),
            origin: self.origin.map(owned),
            stack_trace: self.stack_trace,
        }
    }

    /// The header of a line that only the user's `[fold] event_start` pattern recognised: no
    /// time, level or logger, the whole line as the message.
    pub fn started(line: &'a str) -> Header<'a> {
        Header {
            format: "start",
            ts: None,
            level: None,
            logger: None,
            thread: None,
            message: Cow::Borrowed(line),
            origin: None,
            stack_trace: None,
        }
    }
}

/// The names of the header grammars, as events carry them (`none`: a line without header).
pub const FORMATS: &[&str] = &[
    "iso",
    "bracketed",
    "celery",
    "tomcat",
    "jul",
    "time",
    "logcat",
    "syslog3164",
    "syslog5424",
    "vdsm",
    "apache",
    "level",
    "json",
    "cri",
    "docker",
    "start",
    "none",
];

/// The format called `name`, as events carry it; `none` for a name this version does not
/// know (an event folded by a newer edge).
pub fn format_name(name: &str) -> &'static str {
    FORMATS
        .iter()
        .find(|f| **f == name)
        .copied()
        .unwrap_or("none")
}

/// Parses the headers of one file's lines.
#[derive(Debug, Clone)]
pub struct HeaderParser {
    time: TimeResolver,
}

impl HeaderParser {
    /// A parser resolving zone-less times in `zone`, `assume_year` for headers without a year
    /// and `file_date` for headers without a date.
    pub fn new(zone: TimeZone, assume_year: i16, file_date: Option<civil::Date>) -> Self {
        HeaderParser {
            time: TimeResolver::new(zone, assume_year, file_date),
        }
    }

    /// The header of `line`, if it has one. `line` must be free of ANSI colour codes
    /// (see [`strip_ansi`]).
    pub fn parse<'a>(&mut self, line: &'a str) -> Option<Header<'a>> {
        self.parse_read(line, container_line(line))
    }

    /// The same, for a line whose runtime prefix the caller already read (`None`: it has
    /// none), so that it is not parsed twice.
    pub fn parse_read<'a>(
        &mut self,
        line: &'a str,
        container: Option<ContainerLine<'a>>,
    ) -> Option<Header<'a>> {
        match container {
            Some(container) => Some(self.in_container(container)),
            None => self.parse_written(line),
        }
    }

    /// The header of a line a container runtime wrote (see [`container_line`]): the header of
    /// what the container wrote, if it has one, else a `cri` header with no level. Either way
    /// the time is the runtime's (UTC to the nanosecond, as Filebeat's `container` input takes
    /// it) and the line's origin is its stream, so a trace the container wrote line by line
    /// folds under the runtime's repeated prefixes as under a logger's.
    fn in_container<'a>(&mut self, container: ContainerLine<'a>) -> Header<'a> {
        let ts = self.time.resolve(&container.civil);
        self.contained("cri", ts, container.stream, container.content)
    }

    /// The header of `content`, written by a container to `stream` and kept by its runtime
    /// at `ts` in a layout called `format` when `content` has no header of its own.
    fn contained<'a>(
        &mut self,
        format: &'static str,
        ts: Option<Timestamp>,
        stream: &'a str,
        content: &'a str,
    ) -> Header<'a> {
        let origin = Some(Cow::Borrowed(stream));
        match self.parse_written(content) {
            Some(inner) => Header {
                ts: ts.or(inner.ts),
                origin,
                ..inner
            },
            None => Header {
                format,
                ts,
                level: None,
                logger: None,
                thread: None,
                message: Cow::Borrowed(content),
                origin,
                stack_trace: None,
            },
        }
    }

    /// The header of a line as the program wrote it.
    fn parse_written<'a>(&mut self, line: &'a str) -> Option<Header<'a>> {
        if line.starts_with('{') {
            let json = parse_json(line)?;
            return Some(match &json.docker {
                // Docker's json-file driver: read through, as a CRI line is.
                Some(docker) => self
                    .contained("docker", json.ts, &docker.stream, &docker.content)
                    .into_owned(),
                None => from_json(json),
            });
        }
        let raw = raw_header(line)?;
        let ts = raw.civil.and_then(|c| self.time.resolve(&c));
        let rest = raw.rest;
        let (origin, message) = match raw.origin.or(rest.logger) {
            Some(origin) => (Some(origin), rest.message),
            None => match program_prefix(rest.message) {
                Some((program, message)) => (Some(program), message),
                None => (None, rest.message),
            },
        };
        Some(Header {
            format: raw.format,
            ts,
            level: rest.level,
            logger: rest.logger.map(Cow::Borrowed),
            thread: rest.thread.map(Cow::Borrowed),
            message: Cow::Borrowed(message),
            origin: origin.map(Cow::Borrowed),
            stack_trace: None,
        })
    }
}

/// A program path before the message, as Go's `log` writes a plugin's output under its own
/// (`/usr/bin/packer-builder-vmware: goroutine 3 [syscall]:`): the path is who wrote the line,
/// the rest is the message. Only an absolute path without spaces or colons counts
/// (`/app/x.py:367: Warning` names a source line, Python's warnings); this runs on every
/// header without a logger, so it looks at the first byte before anything else.
fn program_prefix(message: &str) -> Option<(&str, &str)> {
    if !message.starts_with('/') {
        return None;
    }
    let bytes = message.as_bytes();
    let colon = memchr::memchr2(b':', b' ', bytes)?;
    if bytes[colon] != b':' {
        return None;
    }
    match bytes.get(colon + 1) {
        None => Some((&message[..colon], "")),
        Some(b' ') => Some((&message[..colon], &message[colon + 2..])),
        Some(_) => None,
    }
}

fn from_json<'a>(h: JsonHeader) -> Header<'a> {
    Header {
        format: "json",
        ts: h.ts,
        level: h.level,
        origin: h.logger.clone().map(Cow::Owned),
        logger: h.logger.map(Cow::Owned),
        thread: h.thread.map(Cow::Owned),
        message: Cow::Owned(h.message),
        stack_trace: h.stack_trace,
    }
}

/// Removes ANSI escape sequences (colours, as Celery and many dev servers print them).
pub fn strip_ansi(line: &str) -> Cow<'_, str> {
    if memchr::memchr(0x1b, line.as_bytes()).is_none() {
        return Cow::Borrowed(line);
    }
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(pos) = rest.find('\x1b') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos..];
        let csi: nom::IResult<&str, &str> = preceded(
            tag("\x1b["),
            take_while(|c: char| c.is_ascii_digit() || c == ';' || c == '?'),
        )
        .parse(after);
        rest = match csi {
            Ok((tail, _)) => tail.get(1..).unwrap_or(""),
            Err(_) => &after[1..],
        };
    }
    out.push_str(rest);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_colour_codes() {
        assert_eq!(
            strip_ansi("\x1b[1;33m[2024-04-21 17:38:06,891: WARNING/MainProcess] x\x1b[0m"),
            "[2024-04-21 17:38:06,891: WARNING/MainProcess] x"
        );
        assert!(matches!(strip_ansi("plain"), Cow::Borrowed("plain")));
    }

    #[test]
    fn resolves_times_and_keeps_dates_for_time_only_lines() {
        let mut p = HeaderParser::new(TimeZone::UTC, 2020, None);
        let h = p
            .parse("09-26 18:18:27.847  2519  2519 I vold    : Vold 3.0")
            .unwrap();
        assert_eq!(h.ts.unwrap().to_string(), "2020-09-26T18:18:27.847Z");
        let h = p
            .parse("[2015-04-16 01:00:09,062][WARN ][transport.netty] [Zarek] x")
            .unwrap();
        assert_eq!(h.ts.unwrap().to_string(), "2015-04-16T01:00:09.062Z");
        let h = p.parse("02:03:04 WARNING: later").unwrap();
        assert_eq!(h.ts.unwrap().to_string(), "2015-04-16T02:03:04Z");
    }

    #[test]
    fn a_container_runtimes_prefix_is_read_through() {
        let mut p = HeaderParser::new(TimeZone::UTC, 2020, None);
        let h = p
            .parse("2024-03-01T10:00:01.5Z stderr F 2024-03-01 09:00:01,000 ERROR [t] a.B - x")
            .unwrap();
        assert_eq!(h.format, "iso");
        assert_eq!(h.level, Some(crate::event::Level::Error));
        assert_eq!(h.logger.as_deref(), Some("a.B"));
        assert_eq!(h.message, "x");
        assert_eq!(h.origin.as_deref(), Some("stderr"));
        assert_eq!(h.ts.unwrap().to_string(), "2024-03-01T10:00:01.5Z");
        let h = p
            .parse("2024-03-01T10:00:01Z stdout P \tat a.B.c(B.java:1)")
            .unwrap();
        assert_eq!(h.format, "cri");
        assert_eq!(h.message, "\tat a.B.c(B.java:1)");
        assert_eq!(h.origin.as_deref(), Some("stdout"));
        assert_eq!(
            p.parse("2024-03-01T10:00:01Z stdout F ").unwrap().message,
            ""
        );
        // An ISO time before other words is a header of its own, not a runtime's.
        for line in [
            "2024-03-01T10:00:01Z INFO stdout F x",
            "2024-03-01T10:00:01Z stdout x",
            "2024-03-01T10:00:01Z stdout Fx",
        ] {
            assert_eq!(p.parse(line).unwrap().format, "iso", "{line}");
        }
    }
}
