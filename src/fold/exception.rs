//! Reading a trace: the chain of exceptions and their frames (docs/grouping.md §2), for Java (and
//! other JVM languages), Python and Go here, Node.js, .NET, Ruby, PHP and Rust in the modules
//! below. Frames are stored most recent call first for every language (Python prints them the
//! other way round).

mod dotnet;
mod node;
mod php;
mod ruby;
mod runs;
mod rust;

use std::borrow::Cow;

use super::trace::{
    GO_HTTP_PANIC, Kind, classify, exception_group_inner, exception_head, is_throwable_class,
};
use crate::event::{ExceptionInfo, Frame, Language};

/// Which frames are the application's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InApp {
    /// Module prefixes that are in-app; when empty, every frame not excluded is.
    pub include: Vec<String>,
    /// Module prefixes that are frameworks, not in-app (checked after `include`).
    pub exclude: Vec<String>,
}

/// JVM packages Sentry classifies as frameworks (docs/grouping.md §2).
pub const DEFAULT_JVM_FRAMEWORKS: &[&str] = &[
    "java.",
    "javax.",
    "jakarta.",
    "sun.",
    "com.sun.",
    "jdk.",
    "kotlin.",
    "kotlinx.",
    "scala.",
    "akka.",
    "org.springframework.",
    "org.apache.",
    "org.eclipse.jetty.",
    "io.netty.",
    "com.fasterxml.",
    "org.hibernate.",
    "com.google.",
    "io.grpc.",
    "reactor.",
    "io.micrometer.",
    "io.opentelemetry.",
    "org.junit.",
    "groovy.",
    "org.codehaus.groovy.",
    "android.",
    "com.android.",
    "dalvik.",
    "libcore.",
];

impl Default for InApp {
    fn default() -> Self {
        InApp {
            include: Vec::new(),
            exclude: DEFAULT_JVM_FRAMEWORKS
                .iter()
                .map(|s| s.to_string())
                .collect(),
        }
    }
}

impl InApp {
    fn by_prefix(&self, module: &str) -> Option<bool> {
        // Every frame is tested against every prefix: the first byte rules most out without
        // a call to compare the rest.
        let first = module.as_bytes().first();
        let starts_with = |p: &String| p.as_bytes().first() == first && module.starts_with(p);
        if !self.include.is_empty() {
            return Some(self.include.iter().any(starts_with));
        }
        if self.exclude.iter().any(starts_with) {
            return Some(false);
        }
        None
    }
}

/// The language and exception chain (outermost first) of a trace, or `None` if `text` holds
/// no trace. `text` is the event's message, then its other lines; `severe` says the event was
/// logged at ERROR or above, where a message that is an exception line is one.
pub fn extract(text: &str, in_app: &InApp, severe: bool) -> Option<(Language, Vec<ExceptionInfo>)> {
    let text = expand_escaped(text);
    let lines: Vec<&str> = text.lines().collect();
    // A Java trace needs a frame: `Caused by: ...` quoted in a message, with no frame
    // anywhere, is prose about an exception, not a trace.
    let first = lines
        .iter()
        .enumerate()
        .find_map(|(i, line)| match classify(line) {
            Kind::JavaFrame => Some((i, Language::Java)),
            Kind::PyTraceback => Some((i, Language::Python)),
            Kind::GoPanic => Some((i, Language::Go)),
            Kind::NodeFrame | Kind::NodeUncaught => Some((i, Language::Javascript)),
            Kind::DotnetFrame | Kind::DotnetUnhandled => Some((i, Language::Dotnet)),
            Kind::RubyFrame | Kind::RubyUncaught => Some((i, Language::Ruby)),
            Kind::PhpFrame | Kind::PhpFatal => Some((i, Language::Php)),
            Kind::RustPanic => Some((i, Language::Rust)),
            _ => None,
        });
    let Some(first) = first else {
        return frameless(&lines, severe).map(|chain| (Language::Java, chain));
    };
    let chain = match first.1 {
        Language::Java => java(&lines, in_app),
        Language::Python => python(&lines[first.0..], in_app),
        Language::Go => go(&lines[first.0..], in_app),
        Language::Javascript => node::extract(&lines, in_app),
        Language::Dotnet => dotnet::extract(&lines, in_app),
        Language::Ruby => ruby::extract(&lines, in_app),
        Language::Php => php::extract(&lines, in_app),
        Language::Rust => rust::extract(&lines[first.0..], in_app),
        Language::Other => None,
    }?;
    Some((first.1, chain))
}

/// A trace sent on one line, its newlines escaped as `\n` (JSON-ish) or `#012` (rsyslog's
/// control-character escaping), becomes lines again. Only done when the text has no real
/// continuation lines of its own.
fn expand_escaped(text: &str) -> Cow<'_, str> {
    let looks_escaped = |sep: &str| {
        [
            "at ",
            "Caused by: ",
            "Traceback (most",
            "  File \"",
            "goroutine ",
        ]
        .iter()
        .any(|next| {
            text.contains(&format!("{sep}{next}"))
                || text.contains(&format!("{sep}\\t{next}"))
                || text.contains(&format!("{sep}#011{next}"))
        })
    };
    let single_line = text.lines().nth(1).is_none_or(|l| l.trim().is_empty());
    // Either escape needs a `\` or a `#`: most one-line messages have neither, and building
    // and searching for each pattern was a sixth of `extract`'s time (issue 17).
    if !single_line || memchr::memchr2(b'\\', b'#', text.as_bytes()).is_none() {
        return Cow::Borrowed(text);
    }
    if looks_escaped("\\n") {
        return Cow::Owned(
            text.replace("\\r\\n", "\n")
                .replace("\\n", "\n")
                .replace("\\t", "\t"),
        );
    }
    if looks_escaped("#012") {
        return Cow::Owned(text.replace("#012", "\n").replace("#011", "\t"));
    }
    Cow::Borrowed(text)
}

/// An exception logged without frames: the JVM's preallocated errors (`OutOfMemoryError: Java
/// heap space`), exceptions built without a stack trace, a `stack_trace` field holding only
/// the type line. The exception line must come right after the message, or be the message of
/// an event logged at ERROR or above; its class must be qualified and name a throwable.
fn frameless(lines: &[&str], severe: bool) -> Option<Vec<ExceptionInfo>> {
    let after_message = lines.get(1);
    let message = lines.first().filter(|_| severe);
    after_message.into_iter().chain(message).find_map(|line| {
        let t = strip_uncaught(line.trim());
        exception_head(t).map(|_| vec![java_exception(t)])
    })
}

/// The module of a source file for grouping: inside a package directory (`node_modules/`,
/// `gems/`) the path from the package on, else the last two path parts, as what lies above
/// them (a checkout or release directory) changes between deploys; without the extension.
fn source_module(path: &str, extensions: &[&str]) -> String {
    let path = path.replace('\\', "/");
    let package = ["node_modules/", "/gems/"]
        .iter()
        .find_map(|m| path.rfind(m).map(|i| i + m.len()));
    let relative = match package {
        Some(start) => &path[start..],
        None => {
            let tail_start = path.rmatch_indices('/').nth(1).map_or(0, |(i, _)| i + 1);
            &path[tail_start..]
        }
    };
    let relative = extensions
        .iter()
        .find_map(|e| relative.strip_suffix(e))
        .unwrap_or(relative);
    relative.to_owned()
}

fn indentation(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

// ---------------------------------------------------------------------------------------------
// Java

fn java(lines: &[&str], in_app: &InApp) -> Option<Vec<ExceptionInfo>> {
    let first_frame = lines.iter().position(|l| classify(l) == Kind::JavaFrame);
    let limit = first_frame.unwrap_or(lines.len());
    let (start, head) = java_first_exception(lines, limit)?;
    let mut chain = vec![head];
    let mut suppressed_indent: Option<usize> = None;
    let rest = &lines[start + 1..];
    let mut i = 0;
    while i < rest.len() {
        let line = rest[i];
        let kind = classify(line);
        i += 1;
        let indent = indentation(line);
        if let Some(level) = suppressed_indent {
            let back_to_main = kind == Kind::JavaCause && indent < level;
            if !back_to_main {
                continue;
            }
            suppressed_indent = None;
        }
        match kind {
            Kind::JavaFrame => {
                // The run of frame lines this one starts, read once per thread while it
                // repeats.
                let run = 1 + rest[i..]
                    .iter()
                    .take_while(|l| classify(l) == Kind::JavaFrame)
                    .count();
                let frames =
                    runs::frames_of("java", &rest[i - 1..i - 1 + run], in_app, java_frames);
                i += run - 1;
                let exc = chain.last_mut().expect("chain is not empty");
                if exc.frames.is_empty() {
                    exc.frames = frames;
                } else {
                    exc.frames.to_mut().extend(frames.iter().cloned());
                }
            }
            Kind::JavaCause => {
                let cause = line.trim_start().trim_start_matches("Caused by: ");
                chain.push(java_exception(cause));
            }
            Kind::JavaSuppressed => suppressed_indent = Some(indent.max(1)),
            _ => {}
        }
    }
    Some(chain)
}

/// The frames of a run of `at` lines.
fn java_frames(lines: &[&str], in_app: &InApp) -> Vec<Frame> {
    lines
        .iter()
        .filter_map(|line| java_frame(line.trim_start(), in_app))
        .collect()
}

/// The outermost exception: the first line before the first frame that is an exception line,
/// else an exception class named inside the line just before the first frame (a log message
/// that ends with the exception), else an unnamed one (a trace cut above its first frame).
fn java_first_exception(lines: &[&str], first_frame: usize) -> Option<(usize, ExceptionInfo)> {
    for (i, line) in lines[..first_frame].iter().enumerate() {
        let t = line.trim_start();
        let t = strip_uncaught(t);
        if exception_head(t).is_some() || t.starts_with("Caused by: ") {
            return Some((i, java_exception(t.trim_start_matches("Caused by: "))));
        }
    }
    if first_frame == lines.len() {
        return None;
    }
    // A class whose name does not say it is a throwable (`android.app.ServiceConnectionLeaked`).
    for (i, line) in lines[..first_frame].iter().enumerate() {
        let t = strip_uncaught(line.trim_start());
        if let Some((class, _)) = t.split_once(": ")
            && is_qualified_class(class)
        {
            return Some((i, java_exception(t)));
        }
    }
    let before = first_frame.checked_sub(1)?;
    let embedded =
        bracketed_exception(lines[before].trim()).or_else(|| embedded_exception(lines[before]));
    let head = embedded.unwrap_or_else(|| ExceptionInfo {
        ty: String::new(),
        message: String::new(),
        frames: Default::default(),
    });
    Some((before, head))
}

/// `a.b.C`: dotted identifiers whose last one starts with an upper-case letter.
fn is_qualified_class(class: &str) -> bool {
    let Some((package, name)) = class.rsplit_once('.') else {
        return false;
    };
    !package.is_empty()
        && name.starts_with(|c: char| c.is_ascii_uppercase())
        && class
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'$'))
}

/// Elasticsearch's `MergeMappingException[Merge failed with failures {...}]`.
fn bracketed_exception(t: &str) -> Option<ExceptionInfo> {
    let (class, rest) = t.split_once('[')?;
    let message = rest.strip_suffix(']')?;
    let last = class.rsplit('.').next().unwrap_or(class);
    let named = !class.is_empty()
        && class
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'$'))
        && (last.ends_with("Exception") || last.ends_with("Error"));
    named.then(|| ExceptionInfo {
        ty: class.to_owned(),
        message: message.to_owned(),
        frames: Default::default(),
    })
}

/// `Exception in thread "main" X: msg` → `X: msg`.
fn strip_uncaught(t: &str) -> &str {
    let Some(rest) = t.strip_prefix("Exception in thread \"") else {
        return t;
    };
    rest.split_once("\" ").map_or(t, |(_, exc)| exc)
}

/// An exception class named inside a message: `failed to read: java.io.IOException: x`.
fn embedded_exception(line: &str) -> Option<ExceptionInfo> {
    let mut search = line;
    while let Some(pos) = search.find(|c: char| c.is_ascii_alphabetic()) {
        let candidate = &search[pos..];
        let word_end = candidate.find([':', ' ']).unwrap_or(candidate.len());
        if is_throwable_class(&candidate[..word_end]) {
            return Some(java_exception(candidate));
        }
        let skip = candidate.find(' ').map_or(candidate.len(), |s| s + 1);
        search = &candidate[skip..];
    }
    None
}

/// `X: msg`, a bare `X`, or `X in service y: msg` (JBoss MSC and others write prose between
/// the class and the colon): the type is the class alone, the rest is the message, so that the
/// service or port named in the prose does not make a type of its own.
fn java_exception(t: &str) -> ExceptionInfo {
    let (ty, message) = match t.split_once(": ") {
        Some((ty, msg)) if !ty.contains(' ') => (ty, msg),
        _ => match t.split_once(' ') {
            Some((class, prose)) if is_throwable_class(class) => (class, prose),
            _ => (t.trim_end_matches(':'), ""),
        },
    };
    ExceptionInfo {
        ty: ty.trim().to_owned(),
        message: message.trim().to_owned(),
        frames: Default::default(),
    }
}

/// `at java.base/com.acme.Foo.bar(Foo.java:42) ~[app.jar:1.0]`.
fn java_frame(t: &str, in_app: &InApp) -> Option<Frame> {
    let body = t.strip_prefix("at ")?;
    let (qualified, rest) = body.split_once('(')?;
    // `app//`, `java.base/` or `java.base@17/` before the class; a lambda class's own
    // `$$Lambda$412/0x...` keeps its slash.
    let prefix_end = memchr::memchr(b'$', qualified.as_bytes())
        .and_then(|dollar| qualified[dollar..].find("$$Lambda").map(|at| dollar + at))
        .unwrap_or(qualified.len());
    let qualified = match qualified[..prefix_end].rfind('/') {
        Some(slash) => &qualified[slash + 1..],
        None => qualified,
    };
    let (module, function) = qualified.rsplit_once('.')?;
    let location = rest.split_once(')').map_or(rest, |(loc, _)| loc);
    let (file, line) = match location.rsplit_once(':') {
        Some((file, line)) => (Some(file.to_owned()), line.parse().ok()),
        None if matches!(location, "Native Method" | "Unknown Source" | "") => (None, None),
        None => (Some(location.to_owned()), None),
    };
    Some(Frame {
        module: module.to_owned(),
        function: function.to_owned(),
        file,
        line,
        in_app: in_app.by_prefix(module).unwrap_or(true),
    })
}

// ---------------------------------------------------------------------------------------------
// Python

/// The lines of a Python trace with an exception group's markers taken off, so that each
/// sub-traceback reads as a traceback of its own.
fn without_group_markers<'a>(lines: &[&'a str]) -> Vec<&'a str> {
    lines
        .iter()
        .map(|line| {
            let mut t = line.trim_start();
            // Nested groups put markers inside markers: `| |   File ...`.
            while let Some(inner) = exception_group_inner(t) {
                if !inner.trim_start().starts_with(['|', '+']) {
                    return inner;
                }
                t = inner.trim_start();
            }
            *line
        })
        .collect()
}

/// A Python traceback, chained (`During handling...`) or an exception group (3.11): the
/// chain lists what was printed, last printed first; an exception group, printed first, so
/// comes last, as the root, after its sub-exceptions.
fn python(lines: &[&str], in_app: &InApp) -> Option<Vec<ExceptionInfo>> {
    let lines = &without_group_markers(lines)[..];
    let mut printed: Vec<ExceptionInfo> = Vec::new();
    // Its frames are kept most recent call first as they are read: a run read later is
    // put before those read earlier.
    let mut current: Option<ExceptionInfo> = None;
    let mut frame_indent = 0;
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        i += 1;
        let t = line.trim_start();
        match classify(line) {
            Kind::PyTraceback => {
                printed.extend(current.take());
                current = Some(ExceptionInfo::new("", ""));
            }
            Kind::PyFrame => {
                let Some(exc) = current.as_mut() else {
                    continue;
                };
                let run = python_run(&lines[i - 1..]);
                let frames = runs::frames_of(
                    "python",
                    &lines[i - 1..][..run.lines],
                    in_app,
                    python_frames,
                );
                // `classify` and `python_frame` ask for the same: every frame line reads.
                debug_assert_eq!(frames.len(), run.frames, "{:?}", &lines[i - 1..]);
                frame_indent = run.indent;
                i += run.lines - 1;
                put_before(&mut exc.frames, frames);
            }
            Kind::Blank | Kind::PyChain => {}
            _ => {
                let Some(exc) = current.as_mut().filter(|e| e.ty.is_empty()) else {
                    continue;
                };
                if indentation(line) > frame_indent && !exc.frames.is_empty() {
                    continue; // the source line or caret marks under a frame
                }
                let (ty, message) = python_exception(t);
                exc.ty = ty;
                exc.message = message;
                printed.extend(current.take());
            }
        }
    }
    printed.extend(current);
    if printed.is_empty() {
        return None;
    }
    for exc in &mut printed {
        if exc.ty.is_empty() {
            exc.ty = "<unknown>".to_owned();
        }
    }
    // Python prints the root cause first and the exception that escaped last.
    printed.reverse();
    Some(printed)
}

/// The lines of a Python traceback that a frame line starts: it and the frame lines after
/// it, each with the lines indented deeper than it (its source line, caret marks).
struct PythonRun {
    lines: usize,
    /// How many of them are frame lines.
    frames: usize,
    /// The indentation of the last frame line.
    indent: usize,
}

fn python_run(lines: &[&str]) -> PythonRun {
    let mut run = PythonRun {
        lines: 1,
        frames: 1,
        indent: indentation(lines[0]),
    };
    for line in &lines[1..] {
        match classify(line) {
            Kind::PyFrame => {
                run.frames += 1;
                run.indent = indentation(line);
            }
            Kind::PyTraceback | Kind::PyChain | Kind::Blank => break,
            _ if indentation(line) > run.indent => {}
            _ => break,
        }
        run.lines += 1;
    }
    run
}

/// The frames of a run of Python frame lines, most recent call first.
fn python_frames(lines: &[&str], in_app: &InApp) -> Vec<Frame> {
    let mut frames: Vec<Frame> = lines
        .iter()
        .filter(|line| classify(line) == Kind::PyFrame)
        .filter_map(|line| python_frame(line.trim_start(), in_app))
        .collect();
    frames.reverse();
    frames
}

/// `frames` put before those `exc` has, shared when it has none.
fn put_before(exc: &mut crate::event::Frames, frames: crate::event::Frames) {
    if exc.is_empty() {
        *exc = frames;
    } else {
        *exc = frames
            .iter()
            .chain(exc.iter())
            .cloned()
            .collect::<Vec<_>>()
            .into();
    }
}

/// `ValueError: bad`, `requests.exceptions.ConnectionError: ...`, or a bare `KeyboardInterrupt`.
fn python_exception(t: &str) -> (String, String) {
    let (ty, message) = t.split_once(": ").unwrap_or((t.trim_end_matches(':'), ""));
    let is_type = !ty.is_empty()
        && ty
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_'));
    if is_type {
        (ty.to_owned(), message.trim().to_owned())
    } else {
        ("<unknown>".to_owned(), t.to_owned())
    }
}

/// `File "/usr/lib/python3/dist-packages/foo/bar.py", line 12, in baz`.
fn python_frame(t: &str, in_app: &InApp) -> Option<Frame> {
    let rest = t.strip_prefix("File \"")?;
    let (path, rest) = rest.split_once("\", line ")?;
    let (line, function) = match rest.split_once(", in ") {
        Some((line, function)) => (line.parse().ok(), function.trim().to_owned()),
        None => (rest.trim().parse().ok(), String::from("<module>")),
    };
    let (module, library) = python_module(path);
    let in_app = in_app.by_prefix(&module).unwrap_or(!library);
    Some(Frame {
        module,
        function,
        file: Some(path.to_owned()),
        line,
        in_app,
    })
}

/// The dotted module of a source path, and whether it is a library (installed package or the
/// standard library). An application path keeps only its last two parts, because what lies
/// above them (a checkout or release directory) changes between deploys.
fn python_module(path: &str) -> (String, bool) {
    let path = path.replace('\\', "/");
    const LIBRARY_MARKERS: &[&str] = &["/site-packages/", "/dist-packages/"];
    let library = LIBRARY_MARKERS
        .iter()
        .find_map(|m| path.rfind(m).map(|i| i + m.len()));
    let stdlib = path
        .find("/lib/python")
        .and_then(|i| path[i + 1..].find('/').map(|j| i + 1 + j + 1));
    let (relative, is_library) = match (library, stdlib) {
        (Some(start), _) | (None, Some(start)) => (&path[start..], true),
        (None, None) => {
            let tail_start = path.rmatch_indices('/').nth(1).map_or(0, |(i, _)| i + 1);
            (&path[tail_start..], path.starts_with('<'))
        }
    };
    let module = relative
        .trim_end_matches(".py")
        .trim_end_matches("/__init__")
        .trim_start_matches('/')
        .replace('/', ".");
    (module, is_library)
}

// ---------------------------------------------------------------------------------------------
// Go

fn go(lines: &[&str], in_app: &InApp) -> Option<Vec<ExceptionInfo>> {
    let panic_line = lines[0].trim();
    let (kind, message) = if let Some(m) = panic_line.strip_prefix("panic: ") {
        ("panic", m)
    } else if let Some(served) = panic_line.strip_prefix(GO_HTTP_PANIC) {
        // After the client's address (`[::1]:54143`, never `: ` inside).
        ("panic", served.split_once(": ").map_or(served, |(_, m)| m))
    } else {
        ("fatal error", panic_line.strip_prefix("fatal error: ")?)
    };
    let message = message
        .trim_end_matches(" [recovered, repanicked]")
        .trim_end_matches(" [recovered]");
    let (ty, message) = match message.strip_prefix("runtime error: ") {
        Some(m) => ("runtime error", m),
        None => (kind, message),
    };
    let mut exc = ExceptionInfo {
        ty: ty.to_owned(),
        message: message.to_owned(),
        frames: Default::default(),
    };
    let goroutine = lines.iter().position(|l| classify(l) == Kind::GoGoroutine);
    if let Some(start) = goroutine {
        exc.frames = runs::frames_of("go", &lines[start + 1..], in_app, go_frames);
    }
    Some(vec![exc])
}

/// The frames of one goroutine: pairs of `pkg.fn(args)` and `\t/path/file.go:42 +0x1d`.
fn go_frames(lines: &[&str], in_app: &InApp) -> Vec<Frame> {
    let mut frames = Vec::new();
    let mut iter = lines.iter().peekable();
    while let Some(line) = iter.next() {
        if line.trim().is_empty()
            || line.starts_with("created by ")
            || line.starts_with("goroutine ")
        {
            break;
        }
        if line.starts_with(['\t', ' ']) || line.starts_with("...") {
            continue;
        }
        // Under a logger's prefix the tab may have become spaces.
        let location = iter.next_if(|l| l.starts_with(['\t', ' ']));
        frames.extend(go_frame(line, location.copied(), in_app));
    }
    frames
}

fn go_frame(call: &str, location: Option<&str>, in_app: &InApp) -> Option<Frame> {
    let call = call.trim_end();
    let name = match call.strip_suffix(')') {
        Some(_) => &call[..call.rfind('(')?],
        None => call,
    };
    let slash = name.rfind('/').map_or(0, |i| i + 1);
    let dot = slash + name[slash..].find('.')?;
    let (module, function) = (&name[..dot], &name[dot + 1..]);
    let (file, line) = location
        .map(|l| l.trim().split(' ').next().unwrap_or(""))
        .and_then(|l| l.rsplit_once(':'))
        .map_or((None, None), |(f, n)| (Some(f.to_owned()), n.parse().ok()));
    let first_segment = module.split('/').next().unwrap_or(module);
    let standard_library =
        !first_segment.contains('.') && !matches!(module, "main" | "command-line-arguments");
    Some(Frame {
        module: module.to_owned(),
        function: function.to_owned(),
        file,
        line,
        in_app: in_app.by_prefix(module).unwrap_or(!standard_library),
    })
}

#[cfg(test)]
mod tests;
