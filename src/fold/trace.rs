//! What kind of trace line a line is (docs/grouping.md §1), by plain string tests: the fold
//! stage asks this for every line that has no header, so it is cheap and allocation-free.

/// The kinds of line a stack trace is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Blank,
    /// `\tat pkg.Class.method(File.java:42)`, with or without `~[jar:ver]`.
    JavaFrame,
    /// `Caused by: X: msg`.
    JavaCause,
    /// `Suppressed: X: msg`, indented.
    JavaSuppressed,
    /// `... 12 more`, `... 12 common frames omitted`.
    JavaMore,
    /// `java.lang.IllegalStateException: boom`: a qualified exception class, then a message.
    JavaException,
    /// `Exception in thread "main" java.lang.X: msg`: a trace written with no log header.
    JavaUncaught,
    /// `Traceback (most recent call last):`.
    PyTraceback,
    /// `  File "x.py", line 3, in f`.
    PyFrame,
    /// `During handling of the above exception...`, `The above exception was the direct cause...`.
    PyChain,
    /// `panic: msg` or `fatal error: msg` at the start of a line.
    GoPanic,
    /// `goroutine 1 [running]:` at the start of a line.
    GoGoroutine,
    /// `\t/path/file.go:42 +0x1d`.
    GoLocation,
    /// `created by pkg.fn in goroutine 7`.
    GoCreatedBy,
    /// `[signal SIGSEGV: ...]`.
    GoSignal,
    /// Any other line that starts with white space.
    Indented,
    /// Anything else.
    Other,
}

impl Kind {
    /// Lines that start an event of their own even without a log header: the runtime wrote the
    /// trace straight to stderr.
    pub fn starts_event(self) -> bool {
        matches!(self, Kind::JavaUncaught | Kind::GoPanic)
    }

    /// Lines that can only be part of a trace.
    pub fn is_trace_line(self) -> bool {
        !matches!(self, Kind::Blank | Kind::Indented | Kind::Other)
    }
}

/// Classifies one line (without its line ending).
pub fn classify(line: &str) -> Kind {
    let indented = line.starts_with([' ', '\t']);
    let t = line.trim_start();
    if t.is_empty() {
        return Kind::Blank;
    }
    let first = t.as_bytes()[0];
    let kind = match first {
        b'a' if is_java_frame(t) => Kind::JavaFrame,
        b'.' if is_java_more(t) => Kind::JavaMore,
        b'C' if t.starts_with("Caused by: ") => Kind::JavaCause,
        b'S' if t.starts_with("Suppressed: ") => Kind::JavaSuppressed,
        b'E' if !indented && t.starts_with("Exception in thread \"") => Kind::JavaUncaught,
        b'T' if t.starts_with("Traceback (most recent call last):") => Kind::PyTraceback,
        b'F' if t.starts_with("File \"") && t.contains("\", line ") => Kind::PyFrame,
        b'D' if t.starts_with("During handling of the above exception") => Kind::PyChain,
        b'T' if t.starts_with("The above exception was the direct cause") => Kind::PyChain,
        b'p' if !indented && t.starts_with("panic: ") => Kind::GoPanic,
        b'f' if !indented && t.starts_with("fatal error: ") => Kind::GoPanic,
        b'g' if !indented && is_goroutine_header(t) => Kind::GoGoroutine,
        b'/' | b'C' | b'_' if line.starts_with('\t') && is_go_location(t) => Kind::GoLocation,
        b'c' if t.starts_with("created by ") => Kind::GoCreatedBy,
        b'[' if t.starts_with("[signal ") => Kind::GoSignal,
        _ if exception_head(t).is_some() => Kind::JavaException,
        _ => Kind::Other,
    };
    match kind {
        Kind::Other if indented => Kind::Indented,
        kind => kind,
    }
}

fn is_java_frame(t: &str) -> bool {
    t.starts_with("at ") && t.contains('(') && !t[3..].starts_with(' ')
}

fn is_java_more(t: &str) -> bool {
    t.starts_with("... ") && (t.ends_with(" more") || t.contains("common frames omitted"))
}

fn is_goroutine_header(t: &str) -> bool {
    let Some(rest) = t.strip_prefix("goroutine ") else {
        return false;
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    digits > 0 && rest[digits..].starts_with(" [")
}

fn is_go_location(t: &str) -> bool {
    t.contains(".go:") || t.contains(".s:")
}

/// Suffixes of the last segment of a JVM class name that make it an exception type.
const THROWABLE_SUFFIXES: &[&str] = &[
    "Exception",
    "Error",
    "Throwable",
    "Failure",
    "Fault",
    "Death",
    "Exit",
];

/// The exception class and message of a Java exception line, `X: msg` or a bare `X`: the
/// class must be qualified (`a.b.C`) and name a throwable (`...Exception`, `...Error`).
pub fn exception_head(t: &str) -> Option<(&str, &str)> {
    // Scan only the class token: this runs on every line without a header.
    let end = t
        .bytes()
        .position(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'$')))
        .unwrap_or(t.len());
    let (class, rest) = t.split_at(end);
    let message = match rest.strip_prefix(':') {
        Some("") => "",
        Some(m) => m.strip_prefix(' ')?,
        None if rest.trim_end().is_empty() => "",
        None => return None,
    };
    is_throwable_class(class).then_some((class, message))
}

/// Whether `class` is a qualified JVM class name that names a throwable.
pub fn is_throwable_class(class: &str) -> bool {
    let valid = class.len() > 2
        && class.contains('.')
        && class
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'$'))
        && !class.starts_with('.')
        && !class.starts_with(|c: char| c.is_ascii_digit());
    if !valid {
        return false;
    }
    let last = class.rsplit(['.', '$']).next().unwrap_or(class);
    THROWABLE_SUFFIXES.iter().any(|s| last.ends_with(s))
}

#[cfg(test)]
mod tests {
    use super::*;
    use Kind::*;

    #[track_caller]
    fn is(line: &str, kind: Kind) {
        assert_eq!(classify(line), kind, "{line:?}");
    }

    #[test]
    fn java_lines() {
        is(
            "\tat org.elasticsearch.index.engine.InternalEngine.refresh(InternalEngine.java:774)",
            JavaFrame,
        );
        is(
            "    at kafka.utils.CoreUtils$.swallow(CoreUtils.scala:68)",
            JavaFrame,
        );
        is(
            "\tat org.apache.activemq.broker.BrokerService.start(BrokerService.java:607) [activemq-broker-5.15.9.jar:5.15.9]",
            JavaFrame,
        );
        is(
            "\tat com.sun.proxy.$Proxy12.foo(Unknown Source) ~[na:na]",
            JavaFrame,
        );
        is(
            "\tat jdk.internal.reflect.GeneratedMethodAccessor45.invoke(Unknown Source)",
            JavaFrame,
        );
        is(
            "Caused by: java.net.ConnectException: Connection refused",
            JavaCause,
        );
        is(
            "\tSuppressed: java.io.IOException: close failed",
            JavaSuppressed,
        );
        is("\t... 12 more", JavaMore);
        is("\t... 47 common frames omitted", JavaMore);
        is("java.lang.IllegalStateException: boom", JavaException);
        is(
            "kafka.common.StateChangeFailedException: Failed to elect leader for partition x-0",
            JavaException,
        );
        is(
            "org.apache.zookeeper.KeeperException$ConnectionLossException: KeeperErrorCode = ConnectionLoss",
            JavaException,
        );
        is("java.lang.OutOfMemoryError", JavaException);
        is(
            "Exception in thread \"main\" java.lang.NullPointerException",
            JavaUncaught,
        );
        is("at the moment nothing is wrong", Other);
        is("STARTUP_MSG: Starting DataNode", Other);
        is("Error: something", Other);
    }

    #[test]
    fn python_lines() {
        is("Traceback (most recent call last):", PyTraceback);
        is(
            "  File \"/usr/lib/python2.7/site-packages/eventlet/hubs/hub.py\", line 457, in fire_timers",
            PyFrame,
        );
        is("File \"/usr/share/vdsm/vdsm\", line 72, in run", PyFrame);
        is("    timer()", Indented);
        is("    ^^^^^^^^^^^^^", Indented);
        is(
            "During handling of the above exception, another exception occurred:",
            PyChain,
        );
        is(
            "The above exception was the direct cause of the following exception:",
            PyChain,
        );
        is(
            "TypeError: 'URLResolver' object is not subscriptable",
            Other,
        );
    }

    #[test]
    fn go_lines() {
        is(
            "panic: runtime error: invalid memory address or nil pointer dereference",
            GoPanic,
        );
        is("fatal error: concurrent map writes", GoPanic);
        is("\tpanic: oops", Indented);
        is(
            "[signal SIGSEGV: segmentation violation code=0x1 addr=0x18 pc=0x457922a]",
            GoSignal,
        );
        is("goroutine 171 [running]:", GoGoroutine);
        is(
            "\t/Users/jb/dev/github.com/syncthing/lib/connections/service.go:689 +0x3a",
            GoLocation,
        );
        is("\tC:/Users/felixge/pprof.go:693 +0x9f", GoLocation);
        is(
            "created by github.com/syncthing/syncthing/lib/connections.(*service).dialParallel",
            GoCreatedBy,
        );
        is("main.main()", Other);
        is("", Blank);
        is("   ", Blank);
    }
}
