//! The header grammars: one nom function per family of log line layouts, chosen by the line's
//! first bytes so that continuation lines (frames, tracebacks) fail in a few instructions.

use nom::branch::alt;
use nom::bytes::complete::{tag, take_till, take_till1, take_while1};
use nom::character::complete::{char, one_of, space0, space1};
use nom::{IResult, Parser};

use super::rest::{Rest, parse_rest};
use super::time::{
    Civil, am_pm, digits, digits12, dmy_month_name, iso_datetime, month_name, time_of_day,
};
use crate::event::Level;

/// A header as a grammar found it, before its time is resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawHeader<'a> {
    pub format: &'static str,
    pub civil: Option<Civil>,
    pub rest: Rest<'a>,
    /// Who wrote the line when the header names it apart from the logger (syslog host and
    /// program, logcat pid/tid/tag): lines of one trace share it.
    pub origin: Option<&'a str>,
}

type Res<'a> = IResult<&'a str, RawHeader<'a>>;

fn fail(i: &str) -> nom::Err<nom::error::Error<&str>> {
    nom::Err::Error(nom::error::Error::new(i, nom::error::ErrorKind::Fail))
}

fn header<'a>(format: &'static str, civil: Option<Civil>, rest: Rest<'a>) -> RawHeader<'a> {
    RawHeader {
        format,
        civil,
        rest,
        origin: None,
    }
}

/// Tries the grammars that can match a line starting with `line`'s first byte, then, for a
/// line none of them matches, the same grammars after one word of prefix (see [`prefixed`]).
pub fn raw_header(line: &str) -> Option<RawHeader<'_>> {
    direct(line).or_else(|| prefixed(line))
}

/// The header of a line that an aggregator or a collector wrote one word before: the source
/// file (`nova-api.log.1.2017-05-16_13:53:08 2017-05-16 00:00:00.008 25746 INFO ...`, as
/// `grep` over several files and OpenStack's log collection write it), or the container
/// (`web_1  | 2017-...`, docker compose). Only a header with a full date counts after a
/// prefix, and with a level, so that a line of prose with a time in it stays one; the prefix is
/// one word of at most 128 bytes, followed by blanks and an optional `|`.
fn prefixed(line: &str) -> Option<RawHeader<'_>> {
    let bytes = line.as_bytes();
    if !bytes.first()?.is_ascii_graphic() {
        return None;
    }
    let end = memchr::memchr(b' ', &bytes[..bytes.len().min(129)])?;
    let rest = line[end..].trim_start_matches(' ');
    let rest = match rest.strip_prefix('|') {
        Some(after) => after.trim_start_matches(' '),
        None => rest,
    };
    if !rest
        .as_bytes()
        .first()
        .is_some_and(|b| b.is_ascii_digit() || *b == b'[')
    {
        return None;
    }
    direct(rest).filter(|h| h.civil.is_some_and(|c| c.date.is_some()) && h.rest.level.is_some())
}

fn direct(line: &str) -> Option<RawHeader<'_>> {
    let bytes = line.as_bytes();
    let result = match *bytes.first()? {
        b'0'..=b'9' => match bytes.get(2)? {
            b'0'..=b'9' if bytes.get(6) == Some(&b' ') => hdfs(line),
            b'0'..=b'9' => iso(line),
            b'/' => short_year(line),
            b'-' if bytes.get(3)?.is_ascii_digit() => logcat(line),
            b'-' => tomcat(line),
            b':' => time_only(line),
            _ => return None,
        },
        b'[' => alt((bracketed, apache)).parse(line),
        b'<' => syslog_pri(line),
        b'A'..=b'Z' => alt((jul, syslog3164, logcat_brief, vdsm, level_only)).parse(line),
        _ => return None,
    };
    result.ok().map(|(_, h)| h)
}

/// A line as a container runtime writes it under Kubernetes (the CRI log format of containerd
/// and CRI-O): `2024-03-01T10:00:01.123456789Z stderr F <what the container wrote>`, `P`
/// instead of `F` when the runtime split a long line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContainerLine<'a> {
    pub civil: Civil,
    /// `stdout` or `stderr`.
    pub stream: &'a str,
    /// What the container wrote, without the runtime's prefix.
    pub content: &'a str,
    /// `P`: the runtime split a longer line, whose next piece is on the next line.
    pub partial: bool,
}

/// The runtime's prefix of a CRI line, if `line` has one. Checked on every line, so a line
/// whose eleventh byte is not the `T` of an RFC 3339 time fails at once.
pub fn container_line(line: &str) -> Option<ContainerLine<'_>> {
    if line.as_bytes().get(10) != Some(&b'T') {
        return None;
    }
    let parsed: IResult<&str, _> = (
        iso_datetime,
        char(' '),
        alt((tag("stdout"), tag("stderr"))),
        char(' '),
        one_of("FP"),
    )
        .parse(line);
    let (rest, (civil, _, stream, _, flag)) = parsed.ok()?;
    let content = match rest.strip_prefix(' ') {
        Some(content) => content,
        None if rest.is_empty() => rest,
        None => return None,
    };
    Some(ContainerLine {
        civil,
        stream,
        content,
        partial: flag == 'P',
    })
}

/// `2018-03-05 19:50:11,731 INFO org.a.B: msg` and every layout [`parse_rest`] knows.
fn iso(i: &str) -> Res<'_> {
    let (rest, civil) = iso_datetime(i)?;
    if !(rest.is_empty() || rest.starts_with([' ', '[', '|'])) {
        return Err(fail(i));
    }
    Ok(("", header("iso", Some(civil), parse_rest(rest))))
}

/// log4j's `yy/MM/dd HH:mm:ss` (Spark's default): `17/06/09 20:10:40 INFO a.B: msg`.
fn short_year(i: &str) -> Res<'_> {
    let (rest, (y, _, mo, _, d, _, (h, mi, s, nanos))) = (
        digits(2),
        char('/'),
        digits(2),
        char('/'),
        digits(2),
        char(' '),
        time_of_day,
    )
        .parse(i)?;
    let civil = checked_civil(i, 2000 + y as i16, mo as i8, d as i8, (h, mi, s, nanos))?;
    Ok(("", header("iso", Some(civil), parse_rest(rest))))
}

/// Old Hadoop (HDFS 0.x): `081109 203615 148 INFO dfs.DataNode$PacketResponder: msg`.
fn hdfs(i: &str) -> Res<'_> {
    let (rest, (y, mo, d, _, h, mi, s)) = (
        digits(2),
        digits(2),
        digits(2),
        char(' '),
        digits(2),
        digits(2),
        digits(2),
    )
        .parse(i)?;
    if !rest.starts_with(' ') || h > 23 || mi > 59 || s > 59 {
        return Err(fail(i));
    }
    let hms = (h as i8, mi as i8, s as i8, 0);
    let civil = checked_civil(i, 2000 + y as i16, mo as i8, d as i8, hms)?;
    Ok(("", header("iso", Some(civil), parse_rest(rest))))
}

/// Apache httpd's error log: `[Sun Dec 04 04:47:44 2005] [notice] msg` and 2.4's
/// `[Wed Oct 11 14:32:52.123456 2000] [core:error] [pid 35708:tid 43286] msg`.
fn apache(i: &str) -> Res<'_> {
    let (rest, (_, _day, _, mo, _, d, _, (h, mi, s, nanos), _, y, _, _, module_level, _)) = (
        char('['),
        take_while1(|c: char| c.is_ascii_alphabetic()),
        char(' '),
        month_name,
        space1,
        digits12,
        char(' '),
        time_of_day,
        char(' '),
        digits(4),
        tag("] "),
        char('['),
        take_till1(|c| c == ']'),
        char(']'),
    )
        .parse(i)?;
    let level_word = module_level.rsplit(':').next().unwrap_or(module_level);
    let level = match level_word {
        "emerg" | "alert" | "crit" => Level::Fatal,
        "error" => Level::Error,
        "warn" => Level::Warn,
        "notice" | "info" => Level::Info,
        "debug" => Level::Debug,
        w if w.starts_with("trace") => Level::Trace,
        _ => return Err(fail(i)),
    };
    let logger = module_level.split_once(':').map(|(module, _)| module);
    let rest = rest.strip_prefix(' ').unwrap_or(rest);
    let rest = match rest.strip_prefix("[pid ") {
        Some(pid) => pid.split_once("] ").map_or(rest, |(_, m)| m),
        None => rest,
    };
    let civil = checked_civil(i, y as i16, mo, d as i8, (h, mi, s, nanos))?;
    let parsed = Rest {
        level: Some(level),
        logger,
        thread: None,
        message: rest,
    };
    Ok(("", header("apache", Some(civil), parsed)))
}

/// A civil time with a full date, or a parse failure for an impossible month or day.
fn checked_civil(
    i: &str,
    year: i16,
    month: i8,
    day: i8,
    (hour, minute, second, nanos): super::time::Hms,
) -> Result<Civil, nom::Err<nom::error::Error<&str>>> {
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return Err(fail(i));
    }
    Ok(Civil::on(
        Some(year),
        (month, day),
        (hour, minute, second, nanos),
    ))
}

/// `09:12:41 INFO: msg` (syncthing), `12:00:00.123 [main] INFO a.B - msg` (logback's
/// default): the date comes from the last full one or the file name. A level is required.
fn time_only(i: &str) -> Res<'_> {
    let (rest, (h, mi, s, nanos)) = time_of_day(i)?;
    let parsed = parse_rest(rest);
    if parsed.level.is_none() || !rest.starts_with(' ') {
        return Err(fail(i));
    }
    let civil = Civil {
        hour: h,
        minute: mi,
        second: s,
        nanos,
        ..Civil::default()
    };
    Ok(("", header("time", Some(civil), parsed)))
}

/// Tomcat: `12-Mar-2019 17:34:11.410 INFO [main] org.a.B.method msg`.
fn tomcat(i: &str) -> Res<'_> {
    let (rest, ((y, mo, d), _, (h, mi, s, nanos))) =
        (dmy_month_name, char(' '), time_of_day).parse(i)?;
    let civil = Civil::on(Some(y), (mo, d), (h, mi, s, nanos));
    Ok(("", header("tomcat", Some(civil), parse_rest(rest))))
}

/// java.util.logging's two-line SimpleFormatter: `Jan 12, 2012 3:53:59 PM org.a.B method`;
/// the level and message follow on the next line (`INFO: msg`), which the fold stage reads.
fn jul(i: &str) -> Res<'_> {
    let (rest, (mo, _, d, _, y, _, (h, mi, s, nanos), _, pm, _, logger)) = (
        month_name,
        char(' '),
        digits12,
        tag(", "),
        digits(4),
        char(' '),
        time_of_day,
        char(' '),
        am_pm,
        char(' '),
        take_till1(|c| c == ' '),
    )
        .parse(i)?;
    let hour = (h % 12) + if pm { 12 } else { 0 };
    let civil = Civil::on(Some(y as i16), (mo, d as i8), (hour, mi, s, nanos));
    let parsed = Rest {
        logger: Some(logger),
        message: rest.trim_start(),
        ..Rest::default()
    };
    Ok(("", header("jul", Some(civil), parsed)))
}

/// `[2015-12-06 01:44:16,735][INFO ][node] [Zach] msg` (Elasticsearch),
/// `[2021-04-28 16:03:05,534] INFO msg (logger)` (Kafka), and Celery's
/// `[2023-04-23 11:46:44,290: INFO/MainProcess] msg`.
fn bracketed(i: &str) -> Res<'_> {
    let (rest, (_, civil)) = (char('['), iso_datetime).parse(i)?;
    let celery: IResult<&str, _> = (
        tag(": "),
        take_while1(|c: char| c.is_ascii_uppercase()),
        char('/'),
        take_till1(|c| c == ']'),
        char(']'),
    )
        .parse(rest);
    if let Ok((rest, (_, level, _, process, _))) = celery {
        let parsed = Rest {
            level: Level::from_word(level),
            thread: Some(process),
            logger: None,
            message: rest.strip_prefix(' ').unwrap_or(rest),
        };
        return Ok(("", header("celery", Some(civil), parsed)));
    }
    let (rest, _) = char(']').parse(rest)?;
    Ok(("", header("bracketed", Some(civil), parse_rest(rest))))
}

/// `<PRI>` then RFC 5424 (`1 ts host app procid msgid sd msg`) or RFC 3164
/// (`Mmm dd hh:mm:ss host tag: msg`). The level comes from the message if it has one, else
/// from the priority's severity.
fn syslog_pri(i: &str) -> Res<'_> {
    let (rest, (_, pri, _)) = (
        char('<'),
        take_while1(|c: char| c.is_ascii_digit()),
        char('>'),
    )
        .parse(i)?;
    let severity = pri.parse::<u32>().map_err(|_| fail(i))? % 8;
    let (_, mut h) = alt((syslog5424, syslog3164)).parse(rest)?;
    if h.rest.level.is_none() {
        h.rest.level = Some(match severity {
            0..=2 => Level::Fatal,
            3 => Level::Error,
            4 => Level::Warn,
            5 | 6 => Level::Info,
            _ => Level::Debug,
        });
    }
    Ok(("", h))
}

fn syslog5424(i: &str) -> Res<'_> {
    let (rest, (_, _, civil, _, host, _, app, _, _procid, _, _msgid, _)) = (
        char('1'),
        char(' '),
        iso_datetime,
        char(' '),
        take_till1(|c| c == ' '),
        char(' '),
        take_till1(|c| c == ' '),
        char(' '),
        take_till1(|c| c == ' '),
        char(' '),
        take_till1(|c| c == ' '),
        char(' '),
    )
        .parse(i)?;
    let (msg, _sd) = structured_data(rest)?;
    let mut parsed = parse_rest(msg);
    parsed.logger = parsed.logger.or(Some(app));
    let origin_end = host.as_ptr() as usize - i.as_ptr() as usize + host.len() + 1 + app.len();
    let mut h = header("syslog5424", Some(civil), parsed);
    h.origin = i.get(host.as_ptr() as usize - i.as_ptr() as usize..origin_end);
    Ok(("", h))
}

/// `-` or one or more `[id k="v"...]` elements.
fn structured_data(i: &str) -> IResult<&str, &str> {
    if let Some(rest) = i.strip_prefix('-') {
        return Ok((rest, "-"));
    }
    let mut rest = i;
    while rest.starts_with('[') {
        let mut escaped = false;
        let end = rest
            .char_indices()
            .find(|&(_, c)| {
                let close = c == ']' && !escaped;
                escaped = c == '\\' && !escaped;
                close
            })
            .map(|(idx, _)| idx)
            .ok_or_else(|| fail(i))?;
        rest = &rest[end + 1..];
    }
    Ok((rest, &i[..i.len() - rest.len()]))
}

/// `May 26 20:44:32.276580 host cinder-volume[27348]: INFO cinder.volume.manager msg`: the
/// message may itself carry a layout [`parse_rest`] knows (OpenStack under journald).
/// The program of a syslog TAG and the text after the TAG's `:`, for the tags programs write
/// beyond RFC 3164's alphanumeric ones: `cups:`, `sshd[42]:`, a name with blanks before a pid
/// (`Microsoft Word[14463]:`), a version after the name (`syslogd 1.4.1:`, `BezelServices
/// 255.10[94]:`), a parenthesised sender after the pid (macOS: `sandboxd[129] ([31211]):`),
/// `-- ` before it (`-- root[2421]:`). `None` when the text has no such tag before its first
/// `:`, which is then message.
fn syslog_tag(i: &str) -> Option<(&str, &str)> {
    let tag_start = i.strip_prefix("-- ").unwrap_or(i);
    let colon = memchr::memchr(b':', &tag_start.as_bytes()[..tag_start.len().min(160)])?;
    let (tag, rest) = (&tag_start[..colon], &tag_start[colon + 1..]);
    if !(rest.is_empty() || rest.starts_with(' ')) || tag.is_empty() {
        return None;
    }
    let (program, after_program) = tag.split_at(tag.find('[').unwrap_or(tag.len()));
    let pid_and_sender = |s: &str| {
        let Some((pid, sender)) = s.strip_prefix('[').and_then(|s| s.split_once(']')) else {
            return false;
        };
        pid.bytes().all(|b| b.is_ascii_digit())
            && (sender.is_empty() || sender.starts_with(" (") && sender.ends_with(')'))
    };
    let versioned = |p: &str| {
        p.split_once(' ').is_some_and(|(name, version)| {
            !name.contains(' ')
                && version.bytes().next().is_some_and(|b| b.is_ascii_digit())
                && version.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        })
    };
    let named = !program.is_empty()
        && !program.starts_with(' ')
        && (!program.contains(' ') || versioned(program) || !after_program.is_empty());
    let valid = named && (after_program.is_empty() || pid_and_sender(after_program));
    valid.then_some((program, rest))
}

fn syslog3164(i: &str) -> Res<'_> {
    let (rest, (mo, _, d, _, (h, mi, s, nanos), _)) = (
        month_name,
        space1,
        digits12,
        char(' '),
        time_of_day,
        char(' '),
    )
        .parse(i)?;
    let origin_start = rest;
    let (after_host, (host, _)) = (take_till1(|c| c == ' '), space1).parse(rest)?;
    let (origin, parsed) = match syslog_tag(after_host) {
        Some((program, rest)) => {
            let origin = &origin_start[..origin_start.len() - rest.len() - 1];
            let mut parsed = parse_rest(rest);
            parsed.logger = parsed.logger.or(Some(program));
            (origin, parsed)
        }
        // No tag: the rest is the message (`Jul  7 08:06:15 combo -- MARK --`).
        None => (host, parse_rest(after_host)),
    };
    let civil = Civil::on(None, (mo, d as i8), (h, mi, s, nanos));
    let mut h = header("syslog3164", Some(civil), parsed);
    h.origin = Some(origin);
    Ok(("", h))
}

/// Android `logcat -v threadtime`: `09-26 18:18:27.847  2519  2519 I vold    : msg`.
fn logcat(i: &str) -> Res<'_> {
    let (rest, (mo, _, d, _, (h, mi, s, nanos), _)) = (
        digits(2),
        char('-'),
        digits(2),
        char(' '),
        time_of_day,
        space1,
    )
        .parse(i)?;
    let origin_start = rest;
    let (rest, (_pid, _, tid, _, prio, _, tag_, _)) = (
        take_while1(|c: char| c.is_ascii_digit()),
        space1,
        take_while1(|c: char| c.is_ascii_digit()),
        char(' '),
        one_of("VDIWEFA"),
        char(' '),
        take_till(|c| c == ':'),
        tag(": "),
    )
        .parse(rest)?;
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return Err(fail(i));
    }
    let origin = &origin_start[..origin_start.len() - rest.len() - 2];
    let parsed = Rest {
        level: Level::from_letter(prio as u8),
        logger: Some(tag_.trim_end()),
        thread: Some(tid),
        message: rest,
    };
    let civil = Civil::on(None, (mo as i8, d as i8), (h, mi, s, nanos));
    let mut h = header("logcat", Some(civil), parsed);
    h.origin = Some(origin);
    Ok(("", h))
}

/// Android `logcat -v brief`: `E/AndroidRuntime( 2519): msg`; no timestamp.
fn logcat_brief(i: &str) -> Res<'_> {
    let (rest, (prio, _, tag_, _, _, _pid, _, _)) = (
        one_of("VDIWEFA"),
        char('/'),
        take_till1(|c| c == '('),
        char('('),
        space0,
        take_while1(|c: char| c.is_ascii_digit()),
        char(')'),
        tag(": "),
    )
        .parse(i)?;
    let origin = &i[..i.len() - rest.len() - 2];
    let parsed = Rest {
        level: Level::from_letter(prio as u8),
        logger: Some(tag_.trim_end()),
        thread: None,
        message: rest,
    };
    let mut h = header("logcat", None, parsed);
    h.origin = Some(origin);
    Ok(("", h))
}

/// The level words a header may start with and nothing else: Python's `logging` level names
/// as uvicorn, gunicorn and `logging.basicConfig()` print them. `SEVERE` and `CONFIG` are left
/// out: they are the second line of a java.util.logging event.
const LEVEL_ONLY_WORDS: &[&str] = &[
    "DEBUG", "INFO", "WARNING", "WARN", "ERROR", "CRITICAL", "FATAL",
];

/// How wide uvicorn's level prefix is, colon and padding included (`ERROR:    `).
const UVICORN_COLUMNS: usize = 10;

/// A header with a level and no time: uvicorn's `ERROR:    Exception in ASGI application`
/// (the level and colon padded to ten columns) and `logging.basicConfig()`'s
/// `ERROR:django.request:Internal Server Error: /` (level, logger, message).
fn level_only(i: &str) -> Res<'_> {
    let (rest, word) = take_while1(|c: char| c.is_ascii_uppercase()).parse(i)?;
    if !LEVEL_ONLY_WORDS.contains(&word) {
        return Err(fail(i));
    }
    let rest = rest.strip_prefix(':').ok_or_else(|| fail(i))?;
    let (logger, message) = match rest.strip_prefix(' ') {
        Some(_) => {
            // uvicorn pads to exactly ten columns; other `ERROR: msg` lines (Postgres errors
            // quoted under a log line, Go's race detector `WARNING: DATA RACE`) are text.
            let padding = UVICORN_COLUMNS.saturating_sub(word.len() + 1).max(1);
            let message = &rest[padding.min(rest.len())..];
            let padded = rest.len() > padding
                && rest[..padding].bytes().all(|b| b == b' ')
                && !message.starts_with(' ');
            if !padded {
                return Err(fail(i));
            }
            (None, message)
        }
        None => {
            let (logger, message) = rest.split_once(':').ok_or_else(|| fail(i))?;
            let named = !logger.is_empty()
                && logger
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
            if !named {
                return Err(fail(i));
            }
            (Some(logger), message)
        }
    };
    let parsed = Rest {
        level: Level::from_word(word),
        logger,
        thread: None,
        message,
    };
    Ok(("", header("level", None, parsed)))
}

/// oVirt vdsm: `MainThread::INFO::2011-12-05 07:04:56,101::vdsm::71::vds::(run) msg`.
fn vdsm(i: &str) -> Res<'_> {
    let (rest, (thread, _, level, _, civil, _)) = (
        take_while1(|c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
        tag("::"),
        take_while1(|c: char| c.is_ascii_uppercase()),
        tag("::"),
        iso_datetime,
        tag("::"),
    )
        .parse(i)?;
    let mut fields = rest.splitn(4, "::");
    let (_module, _line, logger, message) = (
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next().ok_or_else(|| fail(i))?,
    );
    let message = message.split_once(") ").map_or(message, |(_, m)| m);
    let parsed = Rest {
        level: Level::from_word(level),
        logger,
        thread: Some(thread),
        message,
    };
    Ok(("", header("vdsm", Some(civil), parsed)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn fields(
        line: &str,
    ) -> (
        &'static str,
        Option<Level>,
        Option<&str>,
        Option<&str>,
        &str,
    ) {
        let h = raw_header(line).unwrap_or_else(|| panic!("no header: {line:?}"));
        (
            h.format,
            h.rest.level,
            h.rest.logger,
            h.rest.thread,
            h.rest.message,
        )
    }

    #[track_caller]
    fn none(line: &str) {
        assert_eq!(raw_header(line), None, "{line:?}");
    }

    #[test]
    fn continuation_lines_have_no_header() {
        none("\tat org.elasticsearch.index.Foo.bar(Foo.java:42)");
        none("java.lang.IllegalStateException: boom");
        none("Caused by: java.io.IOException: x");
        none("Traceback (most recent call last):");
        none("  File \"/usr/lib/python3/x.py\", line 3, in f");
        none("panic: runtime error: invalid memory address or nil pointer dereference");
        none("goroutine 1 [running]:");
        none("main.main()");
        none("\t... 12 more");
        none("STARTUP_MSG: Starting DataNode");
        none("2015");
        none("");
        none("SEVERE: a java.util.logging second line");
        none("ERROR");
        none("ERROR:a logger with spaces: msg");
        none("ERRORS: not a level");
        none("ERROR: could not serialize access due to concurrent update");
        none("WARNING: DATA RACE");
        none("INFO:      one space too many");
    }

    #[test]
    fn a_header_after_one_word_of_prefix() {
        let line = "nova-api.log.1.2017-05-16_13:53:08 2017-05-16 00:00:00.008 25746 INFO \
                    nova.osapi_compute.wsgi.server [req-38101a0b - - -] 10.11.10.1 \"GET /v2 HTTP/1.1\"";
        assert_eq!(
            fields(line),
            (
                "iso",
                Some(Level::Info),
                Some("nova.osapi_compute.wsgi.server"),
                None,
                "10.11.10.1 \"GET /v2 HTTP/1.1\""
            )
        );
        assert_eq!(
            fields("web_1  | [2023-04-23 11:46:44,290: ERROR/MainProcess] boom"),
            (
                "celery",
                Some(Level::Error),
                None,
                Some("MainProcess"),
                "boom"
            )
        );
        // Prose with a time in it, a time without a date, an indented line: no header.
        none("Took 2017-05-16 00:00:00.008 as its start");
        none("retrying 12:00:01 INFO later");
        none("  at 2017-05-16 00:00:00.008 INFO x");
        none("Retrying 2017-05-16");
    }

    #[test]
    fn syslog_tags_as_programs_write_them() {
        fn line(l: &str) -> (&'static str, Option<&str>, Option<&str>, &str) {
            let h = raw_header(l).unwrap_or_else(|| panic!("no header: {l:?}"));
            (h.format, h.rest.logger, h.origin, h.rest.message)
        }
        for (text, program, origin, message) in [
            (
                "cups: cupsd startup succeeded",
                "cups",
                "cups",
                "cupsd startup succeeded",
            ),
            (
                "syslogd 1.4.1: restart.",
                "syslogd 1.4.1",
                "syslogd 1.4.1",
                "restart.",
            ),
            (
                "Microsoft Word[14463]: Cocoa scripting error",
                "Microsoft Word",
                "Microsoft Word[14463]",
                "Cocoa scripting error",
            ),
            (
                "sandboxd[129] ([31211]): com.apple.Addres(31211) deny",
                "sandboxd",
                "sandboxd[129] ([31211])",
                "com.apple.Addres(31211) deny",
            ),
            (
                "BezelServices 255.10[94]: ASSERTION FAILED: x",
                "BezelServices 255.10",
                "BezelServices 255.10[94]",
                "ASSERTION FAILED: x",
            ),
            (
                "-- root[2421]: ROOT LOGIN ON tty2",
                "root",
                "-- root[2421]",
                "ROOT LOGIN ON tty2",
            ),
        ] {
            let full = format!("Jul  7 08:06:15 combo {text}");
            let (format, logger, got_origin, got_message) = line(&full);
            assert_eq!(format, "syslog3164", "{text}");
            assert_eq!(logger, Some(program), "{text}");
            assert_eq!(
                got_origin,
                Some(format!("combo {origin}").as_str()),
                "{text}"
            );
            assert_eq!(got_message, message, "{text}");
        }
        // Without a tag the line is still a syslog line, all message.
        for text in ["Connection closed by peer: reset", "-- MARK --", "a:b c"] {
            let full = format!("Jul  7 08:06:15 combo {text}");
            let (format, logger, origin, message) = line(&full);
            assert_eq!(
                (format, logger, origin, message),
                ("syslog3164", None, Some("combo"), text)
            );
        }
    }

    #[test]
    fn level_only_headers() {
        assert_eq!(
            fields("ERROR:    Exception in ASGI application"),
            (
                "level",
                Some(Level::Error),
                None,
                None,
                "Exception in ASGI application"
            )
        );
        assert_eq!(
            fields("WARNING:root:retrying in 5 s"),
            (
                "level",
                Some(Level::Warn),
                Some("root"),
                None,
                "retrying in 5 s"
            )
        );
        assert_eq!(
            fields("CRITICAL:celery.worker:Unrecoverable error: OSError(24)"),
            (
                "level",
                Some(Level::Fatal),
                Some("celery.worker"),
                None,
                "Unrecoverable error: OSError(24)"
            )
        );
    }

    #[test]
    fn real_headers() {
        assert_eq!(
            fields(
                "[2015-12-06 01:44:16,735][INFO ][node                     ] [Zach] version[2.0.0]"
            ),
            (
                "bracketed",
                Some(Level::Info),
                Some("node"),
                None,
                "version[2.0.0]"
            )
        );
        assert_eq!(
            fields(
                "[2023-04-23 11:46:44,290: INFO/MainProcess] Connected to redis://localhost:6379//"
            ),
            (
                "celery",
                Some(Level::Info),
                None,
                Some("MainProcess"),
                "Connected to redis://localhost:6379//"
            )
        );
        assert_eq!(
            fields(
                "12-Mar-2019 17:34:11.410 SEVERE [main] org.apache.catalina.core.StandardServer.await Failed"
            ),
            (
                "tomcat",
                Some(Level::Fatal),
                Some("org.apache.catalina.core.StandardServer.await"),
                Some("main"),
                "Failed"
            )
        );
        assert_eq!(
            fields("Jan 12, 2012 3:53:59 PM org.apache.catalina.core.AprLifecycleListener init"),
            (
                "jul",
                None,
                Some("org.apache.catalina.core.AprLifecycleListener"),
                None,
                "init"
            )
        );
        assert_eq!(
            fields(
                "09-26 18:18:30.823  2817  2835 E AndroidRuntime: \tat android.util.Log.wtf(Log.java:304)"
            ),
            (
                "logcat",
                Some(Level::Error),
                Some("AndroidRuntime"),
                Some("2835"),
                "\tat android.util.Log.wtf(Log.java:304)"
            )
        );
        assert_eq!(
            fields("E/AndroidRuntime( 2519): FATAL EXCEPTION: main"),
            (
                "logcat",
                Some(Level::Error),
                Some("AndroidRuntime"),
                None,
                "FATAL EXCEPTION: main"
            )
        );
        assert_eq!(
            fields(
                "May 26 20:44:32.283764 ubuntu-xenial-rax-dfw-9013276 cinder-volume[27348]:   File \"/usr/x.py\", line 457, in fire_timers"
            ),
            (
                "syslog3164",
                None,
                Some("cinder-volume"),
                None,
                "  File \"/usr/x.py\", line 457, in fire_timers"
            )
        );
        assert_eq!(
            fields(
                "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut=\"3\"] An application event"
            ),
            (
                "syslog5424",
                Some(Level::Info),
                Some("evntslog"),
                None,
                "An application event"
            )
        );
        assert_eq!(
            fields("<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8"),
            (
                "syslog3164",
                Some(Level::Fatal),
                Some("su"),
                None,
                "'su root' failed for lonvick on /dev/pts/8"
            )
        );
        assert_eq!(
            fields(
                "MainThread::ERROR::2011-12-05 07:04:56,300::vdsm::74::vds::(run) Traceback (most recent call last):"
            ),
            (
                "vdsm",
                Some(Level::Error),
                Some("vds"),
                Some("MainThread"),
                "Traceback (most recent call last):"
            )
        );
        assert_eq!(
            fields("09:12:41 INFO: syncthing v1.1.3"),
            ("time", Some(Level::Info), None, None, "syncthing v1.1.3")
        );
        assert_eq!(
            fields(
                "17/06/09 20:10:40 INFO executor.CoarseGrainedExecutorBackend: Registered signal handlers"
            ),
            (
                "iso",
                Some(Level::Info),
                Some("executor.CoarseGrainedExecutorBackend"),
                None,
                "Registered signal handlers"
            )
        );
        assert_eq!(
            fields(
                "081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 terminating"
            ),
            (
                "iso",
                Some(Level::Info),
                Some("dfs.DataNode$PacketResponder"),
                None,
                "PacketResponder 1 terminating"
            )
        );
        assert_eq!(
            fields(
                "[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok /etc/httpd/conf/workers2.properties"
            ),
            (
                "apache",
                Some(Level::Info),
                None,
                None,
                "workerEnv.init() ok /etc/httpd/conf/workers2.properties"
            )
        );
        assert_eq!(
            fields(
                "[Wed Oct 11 14:32:52.123456 2000] [core:error] [pid 35708:tid 4328636416] File does not exist"
            ),
            (
                "apache",
                Some(Level::Error),
                Some("core"),
                None,
                "File does not exist"
            )
        );
        assert_eq!(
            fields("2009/11/10 23:00:00 Hello, log"),
            ("iso", None, None, None, "Hello, log")
        );
    }

    #[test]
    fn syslog_origin_ties_trace_lines_together() {
        let a = raw_header("May 26 20:44:32.283596 host-1 cinder-volume[27348]: Traceback (most recent call last):").unwrap();
        assert_eq!(a.origin, Some("host-1 cinder-volume[27348]"));
        let b = raw_header("09-26 18:18:30.823  2817  2835 E AndroidRuntime: x").unwrap();
        assert_eq!(b.origin, Some("2817  2835 E AndroidRuntime"));
    }
}
