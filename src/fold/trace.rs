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
    /// A line of a Python 3.11 exception group: `| ` before a sub-traceback's lines, the
    /// `+-+---------------- 1 ----------------` separators.
    PyGroup,
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
    /// Node.js: `    at fn (/app/x.js:12:5)`, `    at /app/x.js:12:5`, `    at async fn (...)`,
    /// and the `Node.js v20.11.0` line that ends a crash report.
    NodeFrame,
    /// Node.js's crash report for an uncaught exception or unhandled rejection starts with the
    /// location that threw, alone on its line: `/srv/app/server.js:12`,
    /// `node:internal/process/promises:288`.
    NodeUncaught,
    /// .NET's `Unhandled exception. System.X: msg`, written to stderr as the process dies.
    DotnetUnhandled,
    /// Ruby's uncaught exception, first line: `app.rb:12:in 'm': msg (Type)`.
    RubyUncaught,
    /// PHP's `PHP Fatal error:  Uncaught ...` written without a log header (the CLI's stderr).
    PhpFatal,
    /// .NET: `   at NS.Type.Method(String s) in /src/x.cs:line 42`.
    DotnetFrame,
    /// .NET: `--- End of inner exception stack trace ---`, `--- End of stack trace from
    /// previous location ---`.
    DotnetMarker,
    /// Ruby: `/app/models/user.rb:42:in 'save'`, `\tfrom app.rb:3:in '<main>'`.
    RubyFrame,
    /// PHP: `#0 /var/www/x.php(12): App\Foo->bar()`, `#3 {main}`, `Stack trace:`,
    /// `  thrown in /var/www/x.php on line 12`.
    PhpFrame,
    /// Rust: `thread 'main' panicked at src/main.rs:4:5:` at the start of a line.
    RustPanic,
    /// Rust: `stack backtrace:` and its numbered frames, `  12: app::run`.
    RustFrame,
    /// Any other line that starts with white space.
    Indented,
    /// Anything else.
    Other,
}

impl Kind {
    /// Lines that start an event of their own even without a log header: the runtime wrote the
    /// trace straight to stderr.
    pub fn starts_event(self) -> bool {
        matches!(
            self,
            Kind::JavaUncaught
                | Kind::GoPanic
                | Kind::RustPanic
                | Kind::NodeUncaught
                | Kind::DotnetUnhandled
                | Kind::RubyUncaught
                | Kind::PhpFatal
        )
    }

    /// Lines that can only be part of a trace.
    pub fn is_trace_line(self) -> bool {
        !matches!(self, Kind::Blank | Kind::Indented | Kind::Other)
    }
}

/// How Go's net/http logs a handler's panic: `http: panic serving 10.0.0.1:5123: msg`.
pub const GO_HTTP_PANIC: &str = "http: panic serving ";

/// Classifies one line (without its line ending).
pub fn classify(line: &str) -> Kind {
    let indented = line.starts_with([' ', '\t']);
    let t = line.trim_start();
    if t.is_empty() {
        return Kind::Blank;
    }
    let first = t.as_bytes()[0];
    let kind = match first {
        b'a' if let Some(open) = java_shaped_frame(t) => jvm_node_or_dotnet(t, open),
        b'a' if is_node_location_frame(t) => Kind::NodeFrame,
        b'N' if t.starts_with("Node.js v") => Kind::NodeFrame,
        b'/' | b'n' | b'f' if !indented && is_node_crash_location(t) => Kind::NodeUncaught,
        b'U' if !indented && t.starts_with("Unhandled exception. ") => Kind::DotnetUnhandled,
        b'P' if !indented && t.starts_with("PHP Fatal error:") => Kind::PhpFatal,
        b'f' if t.starts_with("from ") && is_ruby_frame(&t[5..]) => Kind::RubyFrame,
        b'-' if t.starts_with("--- End of ") && t.ends_with(" ---") => Kind::DotnetMarker,
        b'#' if is_php_frame(t) => Kind::PhpFrame,
        b'S' if t == "Stack trace:" => Kind::PhpFrame,
        b't' if indented && t.starts_with("thrown in ") && t.contains(" on line ") => {
            Kind::PhpFrame
        }
        b't' if !indented && is_rust_panic(t) => Kind::RustPanic,
        b's' if t == "stack backtrace:" => Kind::RustFrame,
        b'0'..=b'9' if indented && is_rust_frame(t) => Kind::RustFrame,
        b'.' if is_java_more(t) => Kind::JavaMore,
        b'C' if t.starts_with("Caused by: ") => Kind::JavaCause,
        b'S' if t.starts_with("Suppressed: ") => Kind::JavaSuppressed,
        b'E' if !indented && t.starts_with("Exception in thread \"") => Kind::JavaUncaught,
        b'T' if t.starts_with("Traceback (most recent call last):") => Kind::PyTraceback,
        b'E' if t.starts_with("Exception Group Traceback (most recent call last):") => {
            Kind::PyTraceback
        }
        // Python indents every line of an exception group; tables in text do not.
        b'+' | b'|' if indented && let Some(inner) = exception_group_inner(t) => {
            match classify(inner) {
                Kind::PyTraceback => Kind::PyTraceback,
                _ => Kind::PyGroup,
            }
        }
        b'F' if t.starts_with("File \"") && t.contains("\", line ") => Kind::PyFrame,
        b'D' if t.starts_with("During handling of the above exception") => Kind::PyChain,
        b'T' if t.starts_with("The above exception was the direct cause") => Kind::PyChain,
        b'p' if !indented && t.starts_with("panic: ") => Kind::GoPanic,
        b'f' if !indented && t.starts_with("fatal error: ") => Kind::GoPanic,
        // net/http recovers a handler's panic and logs it with the goroutine's stack.
        b'h' if !indented && t.starts_with(GO_HTTP_PANIC) => Kind::GoPanic,
        b'g' if !indented && is_goroutine_header(t) => Kind::GoGoroutine,
        b'/' | b'C' | b'_' if line.starts_with('\t') && is_go_location(t) => Kind::GoLocation,
        b'c' if t.starts_with("created by ") => Kind::GoCreatedBy,
        b'[' if t.starts_with("[signal ") => Kind::GoSignal,
        _ if exception_head(t).is_some() => Kind::JavaException,
        _ if is_ruby_frame(t) => {
            let uncaught =
                !indented && t.ends_with(')') && (t.contains("': ") || t.contains("`: "));
            if uncaught {
                Kind::RubyUncaught
            } else {
                Kind::RubyFrame
            }
        }
        _ => Kind::Other,
    };
    match kind {
        Kind::Other if indented => Kind::Indented,
        kind => kind,
    }
}

/// `at X(...)`: where its parenthesis opens, after `at `.
fn java_shaped_frame(t: &str) -> Option<usize> {
    let body = t.strip_prefix("at ")?;
    if body.starts_with(' ') {
        return None;
    }
    memchr::memchr(b'(', body.as_bytes())
}

/// What a line of a Python exception group holds inside its markers: `| text` and `+ text`
/// give `text` (indentation kept), a separator (`+-+------ 1 ------`, `+------------`) gives
/// an empty line; `None` for a line that is not one.
pub fn exception_group_inner(t: &str) -> Option<&str> {
    if let Some(rest) = t.strip_prefix("| ").or_else(|| t.strip_prefix("+ ")) {
        return Some(rest);
    }
    if t == "|" {
        return Some("");
    }
    let dashes = t.trim_start_matches(['+', '-']);
    let separator = t.starts_with("+-")
        && t.ends_with("----")
        && (dashes.is_empty()
            || dashes
                .trim_end_matches('-')
                .trim()
                .bytes()
                .all(|b| b.is_ascii_digit() || b == b'.' || b == b' '));
    separator.then_some("")
}

/// `at X(...)`: a JVM frame, unless a space stands before the parenthesis (Node.js's
/// `at fn (file:1:2)`) or what the parentheses hold is a .NET parameter list (`()`,
/// `(String s, Int32 n)`) or a .NET location follows (`) in /src/x.cs:line 42`).
fn jvm_node_or_dotnet(t: &str, open: usize) -> Kind {
    // Every JVM frame comes through here: what the parentheses hold is short, so plain
    // loops over it, no searcher set up per line.
    let body = &t.as_bytes()[3..];
    let close = body[open..]
        .iter()
        .position(|&b| b == b')')
        .map_or(body.len(), |c| open + c);
    let inside = &t[3 + open + 1..3 + close];
    let after = t.get(3 + close + 1..).unwrap_or("");
    if open > 0 && body[open - 1] == b' ' {
        // Mono writes .NET frames with a space too, then an IL offset or a location:
        // `at NS.Type.Method (String s) [0x00007] in /src/x.cs:9`.
        let mono =
            after.starts_with(" [0x") || after.starts_with(" <0x") || after.starts_with(" in ");
        return if mono {
            Kind::DotnetFrame
        } else {
            Kind::NodeFrame
        };
    }
    // Android's ART prints the signature, then the location: `at Ret C.m(Args) (C.java:12)`.
    if after.starts_with(" (") {
        return Kind::JavaFrame;
    }
    let parameter = |p: &str| {
        p.split_once(' ').is_some_and(|(ty, name)| {
            !matches!(ty, "Native" | "Unknown")
                && name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        })
    };
    let parameters = inside.is_empty()
        || (inside.as_bytes().contains(&b' ') && (inside.contains(", ") || parameter(inside)));
    if parameters || after.starts_with(" in ") {
        Kind::DotnetFrame
    } else {
        Kind::JavaFrame
    }
}

/// Node.js's `at /app/x.js:12:5` or `at node:internal/main:12:5`: a location without a name.
fn is_node_location_frame(t: &str) -> bool {
    let Some(location) = t.strip_prefix("at ") else {
        return false;
    };
    let location = location.strip_prefix("async ").unwrap_or(location);
    !location.contains(' ') && has_line_and_column(location)
}

/// `/srv/app/server.js:12`, `node:internal/process/promises:288`, `file:///srv/app/x.mjs:3`:
/// a script and a line number, nothing else.
fn is_node_crash_location(t: &str) -> bool {
    let Some((path, line)) = t.rsplit_once(':') else {
        return false;
    };
    let script = [".js", ".mjs", ".cjs", ".ts"]
        .iter()
        .any(|e| path.ends_with(e))
        || path.starts_with("node:");
    script && !path.contains(' ') && !line.is_empty() && line.bytes().all(|b| b.is_ascii_digit())
}

/// `...:12:5` at the end.
fn has_line_and_column(location: &str) -> bool {
    let mut parts = location.rsplitn(3, ':');
    let column = parts.next().unwrap_or("");
    let line = parts.next().unwrap_or("");
    parts.next().is_some_and(|path| !path.is_empty())
        && !column.is_empty()
        && column.bytes().all(|b| b.is_ascii_digit())
        && !line.is_empty()
        && line.bytes().all(|b| b.is_ascii_digit())
}

/// Rails' exception line above a backtrace, `Type (message):` (`ActionController::RoutingError
/// (No route matches [GET] "/x"):`), which a line of white space may separate from its frames.
pub fn is_rails_exception(t: &str) -> bool {
    let t = t.trim();
    // Most lines are rejected by their last two bytes.
    if !t.ends_with("):") {
        return false;
    }
    let Some((ty, _)) = t.split_once(" (") else {
        return false;
    };
    ty.starts_with(|c: char| c.is_ascii_uppercase())
        && ty
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'_'))
}

/// `path.rb:42:in 'method'` or with Ruby's older backtick, `` in `method' ``.
pub fn is_ruby_frame(t: &str) -> bool {
    // This runs on every line without a header that nothing else claimed: a vectorised search.
    static RB: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(".rb:"));
    let Some(rb) = RB.find(t.as_bytes()) else {
        return false;
    };
    let rest = &t[rb + 4..];
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    digits > 0 && rest[digits..].starts_with(":in ")
}

/// `#0 /var/www/x.php(12): App\Foo->bar()`, `#1 [internal function]: f()`, `#2 {main}`.
fn is_php_frame(t: &str) -> bool {
    let Some(rest) = t.strip_prefix('#') else {
        return false;
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    digits > 0
        && rest[digits..].starts_with(' ')
        && (rest.contains(".php(")
            || rest.ends_with("{main}")
            || rest.contains("[internal function]"))
}

/// `thread 'main' panicked at src/main.rs:4:5:` (Rust 1.73 on), `thread 'main' (12345)
/// panicked at ...` (with the thread's id, newer), or `thread 'main' panicked at 'boom',
/// src/main.rs:4:5` (before 1.73).
fn is_rust_panic(t: &str) -> bool {
    t.starts_with("thread '") && t.contains(" panicked at ")
}

/// `  12: app::run::h1a2b3c` in a Rust backtrace.
fn is_rust_frame(t: &str) -> bool {
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    let Some(name) = t[digits..].strip_prefix(": ") else {
        return false;
    };
    name.contains("::") || name.starts_with(['<', '_']) || name.starts_with("rust_")
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
    fn other_runtimes_lines() {
        is("    at getUser (/srv/app/src/users.js:17:23)", NodeFrame);
        is("    at async /srv/app/src/server.js:40:5", NodeFrame);
        is("    at node:internal/main/run_main_module:28:49", NodeFrame);
        is("/srv/app/server.js:12", NodeUncaught);
        is("node:internal/process/promises:288", NodeUncaught);
        is("/srv/app/server.js:12:5", Other);
        is("Node.js v20.11.0", NodeFrame);
        is(
            "Unhandled exception. System.InvalidOperationException: boom",
            DotnetUnhandled,
        );
        is(
            "   at Acme.Orders.OrderService.Charge(Int32 orderId) in /src/OrderService.cs:line 40",
            DotnetFrame,
        );
        is("   at Acme.Program.Main()", DotnetFrame);
        is(
            "  at Acme.Orders.Repo.Find (System.String key) [0x00007] in /src/Orders/Repo.cs:9",
            DotnetFrame,
        );
        is(
            "  at Acme.Threads.Start () [0x00000] in <filename unknown>:0",
            DotnetFrame,
        );
        is("   at Acme.Worker.Run(String name)", DotnetFrame);
        is(
            "   --- End of inner exception stack trace ---",
            DotnetMarker,
        );
        is(
            "--- End of stack trace from previous location ---",
            DotnetMarker,
        );
        // Still JVM frames: ART's location after the signature, and its `Unknown Source:4`.
        is(
            "  at java.lang.Class java.lang.Class.forName(java.lang.String, boolean) (Class.java:453)",
            JavaFrame,
        );
        is(
            "\tat com.android.server.-$Lambda$Va.$m$0(Unknown Source:4)",
            JavaFrame,
        );
        is("\tat java.lang.Thread.sleep(Native Method)", JavaFrame);
        is("app/models/order.rb:42:in `charge'", RubyFrame);
        is(
            "/srv/app/lib/worker.rb:12:in 'Worker#perform': undefined method 'total' for nil (NoMethodError)",
            RubyUncaught,
        );
        is(
            "PHP Fatal error:  Uncaught Exception: boom in /srv/x.php:3",
            PhpFatal,
        );
        is(
            "\tfrom /srv/app/lib/worker.rb:30:in 'block in run'",
            RubyFrame,
        );
        is(
            "#0 /var/www/app/src/Orders/OrderService.php(31): App\\Client->charge(4711)",
            PhpFrame,
        );
        is("#2 {main}", PhpFrame);
        is("Stack trace:", PhpFrame);
        is(
            "  thrown in /var/www/app/src/Payments/Client.php on line 57",
            PhpFrame,
        );
        is("thread 'main' panicked at src/orders.rs:42:9:", RustPanic);
        is("stack backtrace:", RustFrame);
        is("   3: shop::orders::charge::h1a2b3c4d5e6f7a8b", RustFrame);
        is("   3: three items left", Indented);
        is("#1 is the best", Other);
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
