//! Rust panics: `thread 'main' panicked at src/main.rs:4:5:` with the message on the next line
//! (Rust 1.73 on; newer releases write the thread's id, `thread 'main' (12345) panicked at`), or `thread 'main' panicked at 'msg', src/main.rs:4:5` (before), then, with
//! `RUST_BACKTRACE` set, `stack backtrace:` and numbered frames, each maybe followed by
//! `at /path/file.rs:12:5`. The type is `panic`; the frames of the panic machinery and of the
//! standard library are not in-app.

use super::InApp;
use crate::event::{ExceptionInfo, Frame};

/// Paths of the standard library and the panic machinery.
const STANDARD: &[&str] = &[
    "std::",
    "core::",
    "alloc::",
    "rust_begin_unwind",
    "__rust",
    "<core::",
    "<alloc::",
    "<std::",
];

pub(super) fn extract(lines: &[&str], in_app: &InApp) -> Option<Vec<ExceptionInfo>> {
    let panicked = lines
        .iter()
        .position(|l| l.trim_start().starts_with("thread '"))?;
    let head = lines[panicked].trim();
    let after = head.split_once(" panicked at ")?.1;
    let message = match after.strip_prefix('\'') {
        // Before 1.73: `'msg', src/main.rs:4:5`.
        Some(quoted) => quoted
            .rsplit_once("', ")
            .map_or(quoted, |(message, _)| message)
            .to_owned(),
        // From 1.73: the location ends the line, the message follows.
        None => lines
            .get(panicked + 1)
            .map(|l| l.trim())
            .filter(|l| !l.starts_with("note: ") && *l != "stack backtrace:")
            .unwrap_or("")
            .to_owned(),
    };
    let mut frames: Vec<Frame> = Vec::new();
    let mut in_backtrace = false;
    for line in &lines[panicked + 1..] {
        let t = line.trim();
        if t == "stack backtrace:" {
            in_backtrace = true;
        } else if !in_backtrace {
            continue;
        } else if let Some(location) = t.strip_prefix("at ") {
            if let Some(frame) = frames.last_mut() {
                let mut parts = location.rsplitn(3, ':');
                let (_column, line, file) = (parts.next(), parts.next(), parts.next());
                frame.file = file.map(str::to_owned);
                frame.line = line.and_then(|l| l.parse().ok());
                // Crates from the registry and the toolchain's own sources are not the app's.
                let library = file
                    .is_some_and(|f| f.contains("/.cargo/registry/") || f.starts_with("/rustc/"));
                if library && in_app.by_prefix(&frame.module).is_none() {
                    frame.in_app = false;
                }
            }
        } else if let Some(frame) = frame(t, in_app) {
            frames.push(frame);
        }
    }
    // The panic machinery sits on top of every backtrace: keep what called it.
    Some(vec![ExceptionInfo {
        ty: "panic".to_owned(),
        message,
        frames: frames.into(),
    }])
}

/// `12: app::orders::charge::h1a2b3c4d5e6f7a8b` (the hash changes with every build).
fn frame(t: &str, in_app: &InApp) -> Option<Frame> {
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    let name = t.get(digits..)?.strip_prefix(": ")?;
    let name = match name.rsplit_once("::h") {
        Some((path, hash)) if hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()) => {
            path
        }
        _ => name,
    };
    let (module, function) = name.rsplit_once("::").unwrap_or(("", name));
    let standard = STANDARD.iter().any(|p| name.starts_with(p));
    Some(Frame {
        in_app: in_app.by_prefix(module).unwrap_or(!standard),
        module: module.to_owned(),
        function: function.to_owned(),
        file: None,
        line: None,
    })
}
