//! Node.js (V8) traces: `TypeError: msg` over `    at fn (/app/x.js:12:5)` frames, most recent
//! call first; `[cause]: Error: ...` inside the error's printed properties chains a cause.

use super::{InApp, source_module};
use crate::event::{ExceptionInfo, Frame};
use crate::fold::trace::{Kind, classify};

pub(super) fn extract(lines: &[&str], in_app: &InApp) -> Option<Vec<ExceptionInfo>> {
    let is_frame = |l: &str| classify(l) == Kind::NodeFrame && l.trim_start().starts_with("at ");
    let Some(first_frame) = lines.iter().position(|l| is_frame(l)) else {
        // A crash report without frames: an unhandled rejection of something not an Error,
        // `[UnhandledPromiseRejection: ... reason "boom".] {`.
        return lines.iter().find_map(|l| {
            let t = l
                .trim()
                .trim_end_matches(" {")
                .strip_prefix('[')?
                .strip_suffix(']')?;
            let (ty, message) = t.split_once(": ")?;
            (ty == "UnhandledPromiseRejection").then(|| vec![ExceptionInfo::new(ty, message)])
        });
    };
    let head = lines[..first_frame]
        .iter()
        .rev()
        .find_map(|l| error_line(l.trim()))
        .unwrap_or_else(|| ExceptionInfo::new("Error", ""));
    let mut chain = vec![head];
    for line in &lines[first_frame..] {
        let t = line.trim();
        if let Some(cause) = t.strip_prefix("[cause]: ") {
            chain.push(error_line(cause).unwrap_or_else(|| ExceptionInfo::new("Error", cause)));
        } else if is_frame(line) {
            let current = chain.last_mut().expect("the chain is not empty");
            current.frames.to_mut().extend(frame(t, in_app));
        }
    }
    Some(chain)
}

/// `TypeError: msg`, `Uncaught Error: msg`, `[Error: msg]`, `MyError [ERR_X]: msg`: a name that
/// ends in `Error` or `Exception` (or is `Error`), then the message.
fn error_line(t: &str) -> Option<ExceptionInfo> {
    let t = t.strip_prefix("Uncaught ").unwrap_or(t);
    let t = t.trim_start_matches('[').trim_end_matches(" {");
    let (name, message) = t.split_once(": ").unwrap_or((t, ""));
    let name = name.split(" [").next().unwrap_or(name);
    let named = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'$' | b'.'))
        && (name.ends_with("Error") || name.ends_with("Exception"));
    named.then(|| ExceptionInfo::new(name, message.trim_end_matches(']')))
}

/// `at async Foo.bar [as baz] (/app/src/x.js:12:5) {`, `at /app/x.js:3:9`, `at new Foo (...)`.
fn frame(t: &str, in_app: &InApp) -> Option<Frame> {
    let body = t.strip_prefix("at ")?.trim_end_matches(" {");
    let body = body.strip_prefix("async ").unwrap_or(body);
    let (function, location) = match body.strip_suffix(')').and_then(|b| b.rsplit_once(" (")) {
        Some((function, location)) => (function, location),
        None => ("<anonymous>", body),
    };
    let function = function.strip_prefix("new ").unwrap_or(function);
    let function = function.split(" [as ").next().unwrap_or(function);
    let (path, line) = match location.rsplitn(3, ':').collect::<Vec<_>>()[..] {
        [_column, line, path] => (path, line.parse().ok()),
        _ => (location, None),
    };
    let path = path.strip_prefix("file://").unwrap_or(path);
    let library = path.contains("node_modules/")
        || path.starts_with("node:")
        || path.starts_with("internal/")
        || !path.contains('/');
    let module = source_module(
        path.trim_start_matches("node:"),
        &[".js", ".mjs", ".cjs", ".ts"],
    );
    Some(Frame {
        in_app: in_app.by_prefix(&module).unwrap_or(!library),
        module,
        function: function.to_owned(),
        file: Some(path.to_owned()),
        line,
    })
}
