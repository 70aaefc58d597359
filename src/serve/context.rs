//! The lines around an event in its source file.

use std::collections::VecDeque;
use std::path::Path;

use serde::Serialize;

use crate::decode;

/// Most lines shown on either side of an event.
pub const MAX_CONTEXT_LINES: u64 = 500;

/// One line of a file.
#[derive(Debug, Clone, Serialize)]
pub struct ContextLine {
    pub number: u64,
    pub text: String,
    /// Whether the line belongs to the event.
    pub in_event: bool,
}

/// Lines `first - before ..= last + after` of `path`, where the event spans `first..=last`.
/// `None` when the file can no longer be read.
pub fn lines_around(
    path: &Path,
    first: u64,
    last: u64,
    before: u64,
    after: u64,
) -> Option<Vec<ContextLine>> {
    let mut decoded = decode::open(path, decode::DEFAULT_MAX_DECODED_BYTES).ok()?;
    let mut window: VecDeque<ContextLine> = VecDeque::new();
    let start = first.saturating_sub(before).max(1);
    let end = last.saturating_add(after);
    while let Ok(Some(raw)) = decoded.lines.next_line() {
        if raw.number < start {
            continue;
        }
        if raw.number > end {
            break;
        }
        window.push_back(ContextLine {
            number: raw.number,
            text: String::from_utf8_lossy(raw.bytes).into_owned(),
            in_event: (first..=last).contains(&raw.number),
        });
    }
    Some(window.into())
}
