//! What follows a timestamp: the level, thread, logger and message, in whichever of the common
//! layouts a file uses (log4j/logback, Hadoop, Python logging, OpenStack, Odoo, ZooKeeper,
//! ActiveMQ, Spring Boot, Elasticsearch, Kafka). One tolerant grammar instead of one per layout:
//! tokens are read up to the level, then thread and logger are told apart by their shape.

use nom::branch::alt;
use nom::bytes::complete::{tag, take_till, take_till1, take_while1};
use nom::character::complete::char;
use nom::sequence::delimited;
use nom::{IResult, Parser};

use crate::event::Level;

/// The fields of a header after its timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rest<'a> {
    pub level: Option<Level>,
    pub logger: Option<&'a str>,
    pub thread: Option<&'a str>,
    pub message: &'a str,
}

/// How many tokens may stand between the timestamp and the level (pid, thread, name...).
const MAX_TOKENS_BEFORE_LEVEL: usize = 5;
/// How many tokens may stand between the level and the message (thread, logger, context).
const MAX_TOKENS_AFTER_LEVEL: usize = 6;

fn spaces(i: &str) -> &str {
    i.trim_start_matches(' ')
}

/// `[...]` (nested brackets inside: ZooKeeper's `[QuorumPeer[myid=1]/0.0.0.0:2181:X@774]`),
/// `{...}` or `(...)` without nesting: returns the opening char and the inside.
fn group(i: &str) -> IResult<&str, (char, &str)> {
    alt((
        nested_brackets.map(|s| ('[', s)),
        delimited(char('{'), take_till(|c| c == '}'), char('}')).map(|s| ('{', s)),
        delimited(char('('), take_till(|c| c == ')' || c == '('), char(')')).map(|s| ('(', s)),
    ))
    .parse(i)
}

/// `[...]` with brackets inside balanced; the inside.
fn nested_brackets(i: &str) -> IResult<&str, &str> {
    let mut depth = 0usize;
    for (at, b) in i.bytes().enumerate() {
        match b {
            b'[' => depth += 1,
            b']' if depth > 0 => {
                depth -= 1;
                if depth == 0 {
                    return Ok((&i[at + 1..], &i[1..at]));
                }
            }
            _ if at == 0 => break,
            _ => {}
        }
    }
    Err(nom::Err::Error(nom::error::Error::new(
        i,
        nom::error::ErrorKind::Char,
    )))
}

/// A separator token: `-`, `|`, `---`, `:` standing alone.
fn separator(i: &str) -> IResult<&str, &str> {
    let (rest, sep) = alt((tag("---"), tag("-"), tag("|"), tag(":"))).parse(i)?;
    if rest.is_empty() || rest.starts_with(' ') {
        Ok((rest, sep))
    } else {
        Err(nom::Err::Error(nom::error::Error::new(
            i,
            nom::error::ErrorKind::Tag,
        )))
    }
}

/// A level word, upper case, ending at a space, `:` or the end of line.
fn level(i: &str) -> IResult<&str, Level> {
    let (rest, word) = take_while1(|c: char| c.is_ascii_uppercase()).parse(i)?;
    let at_boundary = rest.is_empty() || rest.starts_with([' ', ':', '/', ']']);
    match Level::from_word(word) {
        Some(level) if at_boundary => Ok((rest.strip_prefix(':').unwrap_or(rest), level)),
        _ => Err(nom::Err::Error(nom::error::Error::new(
            i,
            nom::error::ErrorKind::Tag,
        ))),
    }
}

fn word(i: &str) -> IResult<&str, &str> {
    take_till1(|c| c == ' ').parse(i)
}

fn number(i: &str) -> IResult<&str, &str> {
    let (rest, n) = take_while1(|c: char| c.is_ascii_digit()).parse(i)?;
    if rest.is_empty() || rest.starts_with(' ') {
        Ok((rest, n))
    } else {
        Err(nom::Err::Error(nom::error::Error::new(
            i,
            nom::error::ErrorKind::Digit,
        )))
    }
}

/// A logger or class name: identifier characters with at least one `.` (`org.a.B`,
/// `o.e.n.Node`, `odoo.tools.config`, `kafka.controller.KafkaController`).
pub fn is_dotted_name(s: &str) -> bool {
    is_name(s) && s.contains('.') && !s.starts_with('.') && !s.ends_with('.')
}

fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'$' | b'-' | b'/'))
        && s.bytes().any(|b| b.is_ascii_alphabetic())
}

/// Splits what follows a timestamp into level, thread, logger and message.
pub fn parse_rest(input: &str) -> Rest<'_> {
    let mut out = Rest {
        message: input.strip_prefix(' ').unwrap_or(input),
        ..Rest::default()
    };
    let mut rest = input;
    let mut name_before_level = None;
    let mut pipes = false;
    let mut level_adjacent_group = false;
    for _ in 0..MAX_TOKENS_BEFORE_LEVEL {
        rest = spaces(rest);
        if let Ok((after, lvl)) = level(rest) {
            out.level = Some(lvl);
            rest = after;
            break;
        }
        if let Ok((after, (open, inside))) = group(rest) {
            if let Some(lvl) = Level::from_word(inside.trim()) {
                out.level = Some(lvl);
                level_adjacent_group = after.starts_with('[');
                rest = after;
                break;
            }
            if open == '[' && !inside.starts_with("myid:") && is_name(inside.trim()) {
                out.thread = Some(inside.trim());
            }
            rest = after;
            continue;
        }
        if let Ok((after, sep)) = separator(rest) {
            pipes |= sep == "|";
            rest = after;
            continue;
        }
        if let Ok((after, _pid)) = number(rest) {
            rest = after;
            continue;
        }
        // A name followed by ` - ` before the level: Python's `%(name)s - %(levelname)s`.
        if let Ok((after, name)) = word(rest)
            && is_name(name)
            && spaces(after).starts_with("- ")
        {
            name_before_level = Some(name);
            rest = after;
            continue;
        }
        break;
    }
    if out.level.is_none() {
        return out;
    }
    out.logger = name_before_level;
    after_level(rest, &mut out, level_adjacent_group);
    if pipes {
        split_pipes(&mut out);
    }
    if out.logger.is_none() {
        trailing_logger(&mut out);
    }
    out
}

/// Reads thread, logger and context tokens after the level; leaves the message in `out`.
fn after_level<'a>(mut rest: &'a str, out: &mut Rest<'a>, es_style: bool) {
    let mut skip_node = es_style;
    for _ in 0..MAX_TOKENS_AFTER_LEVEL {
        let trimmed = spaces(rest);
        if out.logger.is_some() && (rest.starts_with("  ") || trimmed.starts_with('(')) {
            break; // an indented continuation, or a message that opens with a parenthesis
        }
        if let Ok((after, (open, inside))) = group(trimmed) {
            let inside_t = inside.trim();
            if es_style && out.logger.is_none() {
                out.logger = Some(inside_t);
            } else if skip_node && open == '[' {
                skip_node = false;
            } else if out.logger.is_some() {
                // Context after the logger: OpenStack `[req-... None]`, Spring `{thread}`.
                if open == '{' {
                    out.thread = Some(inside_t);
                }
            } else if open == '(' && is_dotted_name(inside_t.split(':').next().unwrap_or("")) {
                out.logger = inside_t.split(':').next();
            } else if open == '['
                && inside_t.contains(' ')
                && out.thread.is_none()
                && logger_word(spaces(after)).is_some()
            {
                // A thread named with blanks, a logger after it: Hadoop's
                // `[RMCommunicator Allocator] org.apache.hadoop.ipc.Client: ...`.
                out.thread = Some(inside_t);
            } else if inside_t.contains(' ') || inside_t.is_empty() || open == '(' {
                break;
            } else if let Some((thread, class)) = zookeeper_thread(inside_t) {
                out.thread = Some(thread);
                out.logger = Some(class);
            } else if is_dotted_name(inside_t) && out.thread.is_some() {
                out.logger = Some(inside_t);
            } else {
                out.thread = Some(inside_t);
            }
            rest = after;
            continue;
        }
        if let Ok((after, _)) = separator(trimmed) {
            rest = after;
            if out.logger.is_some() || out.thread.is_some() {
                break;
            }
            continue;
        }
        if out.logger.is_none()
            && let Ok((after, _)) = number(trimmed)
        {
            rest = after;
            continue;
        }
        if out.logger.is_some() {
            break;
        }
        match logger_word(trimmed) {
            Some((after, logger)) => {
                out.logger = Some(logger);
                rest = after;
            }
            None => break,
        }
    }
    let message = spaces(rest);
    // Keep a continuation's indentation: after a logger, exactly one space separates it.
    out.message = if rest.starts_with("  ") && out.logger.is_some() {
        &rest[1..]
    } else {
        message
    };
    out.message = out.message.strip_prefix("- ").unwrap_or(out.message);
    if let Some(m) = out.message.strip_prefix(": ") {
        out.message = m;
    }
}

/// A logger word: `org.a.B:` (Hadoop, Odoo), `org.a.B -`/`:` (log4j, Spring Boot), or a dotted
/// name followed by a context group or the message (OpenStack, Tomcat). Odoo's database name
/// (`?` or a word) before the logger is stepped over.
fn logger_word(i: &str) -> Option<(&str, &str)> {
    let (after, w) = word(i).ok()?;
    if let Some(name) = w.strip_suffix(':')
        && is_name(name)
    {
        return Some((after, name));
    }
    let next = spaces(after);
    if is_name(w) && (next.starts_with("- ") || next.starts_with(": ")) {
        return Some((next, w));
    }
    if is_dotted_name(w)
        && (next.starts_with('[') || next.starts_with('{') || w.matches('.').count() >= 2)
    {
        return Some((after, w));
    }
    if (w == "?" || is_name(w))
        && let Ok((after2, w2)) = word(next)
        && let Some(name) = w2.strip_suffix(':')
        && is_dotted_name(name)
    {
        return Some((after2, name));
    }
    None
}

/// ZooKeeper's `[main:QuorumPeerConfig@124]`: thread, then class and line.
fn zookeeper_thread(inside: &str) -> Option<(&str, &str)> {
    let (thread, class_line) = inside.rsplit_once(':')?;
    let (class, line) = class_line.split_once('@')?;
    line.bytes()
        .all(|b| b.is_ascii_digit())
        .then_some((thread, class))
}

/// ActiveMQ's `msg | logger | thread`.
fn split_pipes(out: &mut Rest<'_>) {
    let message = out.message;
    let Some((head, thread)) = message.rsplit_once(" | ") else {
        return;
    };
    let Some((text, logger)) = head.rsplit_once(" | ") else {
        return;
    };
    if is_dotted_name(logger.trim()) {
        out.message = text.trim_end();
        out.logger = Some(logger.trim());
        out.thread = Some(thread.trim());
    }
}

/// Kafka's `msg (kafka.network.Processor)`.
fn trailing_logger(out: &mut Rest<'_>) {
    let message = out.message.trim_end();
    if let Some(body) = message.strip_suffix(')')
        && let Some((text, logger)) = body.rsplit_once(" (")
        && is_dotted_name(logger)
    {
        out.message = text;
        out.logger = Some(logger);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Level::*;

    #[track_caller]
    fn case(
        rest: &str,
        level: Option<Level>,
        thread: Option<&str>,
        logger: Option<&str>,
        message: &str,
    ) {
        let got = parse_rest(rest);
        let want = Rest {
            level,
            thread,
            logger,
            message,
        };
        assert_eq!(got, want, "input: {rest:?}");
    }

    #[test]
    fn layouts_from_real_logs() {
        // Hadoop MapReduce: a thread named with blanks.
        case(
            " INFO [RMCommunicator Allocator] org.apache.hadoop.ipc.Client: Address change detected.",
            Some(Info),
            Some("RMCommunicator Allocator"),
            Some("org.apache.hadoop.ipc.Client"),
            "Address change detected.",
        );
        // A bracketed phrase that opens a message stays in it.
        case(
            " WARN [disk almost full] please clean up",
            Some(Warn),
            None,
            None,
            "[disk almost full] please clean up",
        );
        // Hadoop 2.7.2 datanode
        case(
            " INFO org.apache.hadoop.hdfs.server.datanode.DataNode: STARTUP_MSG: ",
            Some(Info),
            None,
            Some("org.apache.hadoop.hdfs.server.datanode.DataNode"),
            "STARTUP_MSG: ",
        );
        // OpenStack nova
        case(
            " 28068 INFO nova.openstack.common.service [-] Starting 4 workers",
            Some(Info),
            None,
            Some("nova.openstack.common.service"),
            "Starting 4 workers",
        );
        case(
            " 28068 TRACE nova.openstack.common.threadgroup   File \"/usr/lib/x.py\", line 1, in f",
            Some(Trace),
            None,
            Some("nova.openstack.common.threadgroup"),
            "  File \"/usr/lib/x.py\", line 1, in f",
        );
        case(
            " 28139 TRACE oslo.messaging._drivers.impl_rabbit     (class_id, method_id), ConnectionError)",
            Some(Trace),
            None,
            Some("oslo.messaging._drivers.impl_rabbit"),
            "    (class_id, method_id), ConnectionError)",
        );
        // Odoo 19
        case(
            " 2412 WARNING ? odoo.tools.config: missing --http-interface",
            Some(Warn),
            None,
            Some("odoo.tools.config"),
            "missing --http-interface",
        );
        // ZooKeeper 3.4
        case(
            " [myid:] - INFO  [main:QuorumPeerConfig@124] - Reading configuration from: /x",
            Some(Info),
            Some("main"),
            Some("QuorumPeerConfig"),
            "Reading configuration from: /x",
        );
        // ZooKeeper's quorum threads, named with brackets of their own
        case(
            " - INFO  [QuorumPeer[myid=1]/0:0:0:0:0:0:0:0:2181:Environment@100] - Server environment:os.name=Linux",
            Some(Info),
            Some("QuorumPeer[myid=1]/0:0:0:0:0:0:0:0:2181"),
            Some("Environment"),
            "Server environment:os.name=Linux",
        );
        // ActiveMQ
        case(
            " | INFO  | KahaDB is version 6 | org.apache.activemq.store.kahadb.MessageDatabase | main",
            Some(Info),
            Some("main"),
            Some("org.apache.activemq.store.kahadb.MessageDatabase"),
            "KahaDB is version 6",
        );
        // Spring Boot custom layout (spring.log)
        case(
            " [INFO] com.project.App {restartedMain} Starting App using Java 22.0.2",
            Some(Info),
            Some("restartedMain"),
            Some("com.project.App"),
            "Starting App using Java 22.0.2",
        );
        // Curator client app
        case(
            " INFO  LockingApp - profile=dev",
            Some(Info),
            None,
            Some("LockingApp"),
            "profile=dev",
        );
        // log4j with (class:method)
        case(
            " DEBUG [main] (org.apache.log4j.PropertyConfigurator:parseCategory) - Parsing for [root]",
            Some(Debug),
            Some("main"),
            Some("org.apache.log4j.PropertyConfigurator"),
            "Parsing for [root]",
        );
        // Tomcat
        case(
            " INFO [main] org.apache.catalina.startup.VersionLoggerListener.log Server version: 9",
            Some(Info),
            Some("main"),
            Some("org.apache.catalina.startup.VersionLoggerListener.log"),
            "Server version: 9",
        );
        // Python logging default-ish
        case(
            " - myapp.billing - ERROR - charge failed",
            Some(Error),
            None,
            Some("myapp.billing"),
            "charge failed",
        );
        // Spring Boot default console layout
        case(
            "  INFO 12345 --- [           main] o.s.b.w.e.tomcat.TomcatWebServer         : Tomcat started",
            Some(Info),
            Some("main"),
            Some("o.s.b.w.e.tomcat.TomcatWebServer"),
            "Tomcat started",
        );
        // Go log: no level
        case(
            " listening on :8080",
            None,
            None,
            None,
            "listening on :8080",
        );
    }

    #[test]
    fn bracketed_layouts() {
        // Elasticsearch 1.x/6.x after `[ts]`
        case(
            "[INFO ][node                     ] [Zach] version[2.0.0], pid[48553]",
            Some(Info),
            None,
            Some("node"),
            "version[2.0.0], pid[48553]",
        );
        case(
            "[WARN ][o.e.c.m.MetaDataCreateIndexService] [] creating index",
            Some(Warn),
            None,
            Some("o.e.c.m.MetaDataCreateIndexService"),
            "creating index",
        );
        // Kafka 2.8: message then (logger)
        case(
            " INFO [Controller id=0] Processing election (kafka.controller.KafkaController)",
            Some(Info),
            None,
            Some("kafka.controller.KafkaController"),
            "[Controller id=0] Processing election",
        );
        // Kafka 2.2 state-change
        case(
            " [WARN ] [kafka-request-handler-7] [state.change.logger] - [Broker id=1] Ignoring",
            Some(Warn),
            Some("kafka-request-handler-7"),
            Some("state.change.logger"),
            "[Broker id=1] Ignoring",
        );
    }
}
