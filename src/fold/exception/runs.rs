//! Frames read once per run of frame lines (issue 17): a service logs the same trace again and
//! again, its messages varying and its frame lines not. Each thread remembers the runs it read
//! last and the frames it read from them, and an exception whose run of frame lines is one of
//! them shares those frames instead of reading its lines again.
//!
//! A run is looked up by its lines, compared whole, with the runtime that reads them and the
//! in-app prefixes they were read under: the frames are those that reading the lines would
//! give. Memory is bounded: [`SLOTS`] runs of up to [`MAX_RUN`] bytes each.

use std::cell::RefCell;

use xxhash_rust::xxh3::Xxh3;

use super::InApp;
use crate::event::{Frame, Frames};

/// How many runs a thread remembers, and the longest (in bytes) it remembers.
const SLOTS: usize = 1024;
const MAX_RUN: usize = 32 << 10;

/// A run of frame lines as one text (its lines each ended by `\n`), and its frames.
struct Slot {
    hash: u64,
    text: String,
    frames: Frames,
}

std::thread_local! {
    static RUNS: RefCell<Vec<Option<Slot>>> = const { RefCell::new(Vec::new()) };
}

/// The frames `read` reads from `lines` under `in_app`, shared with the last exception whose
/// lines were the same. `runtime` names `read`: two readers never share a run.
pub(super) fn frames_of(
    runtime: &str,
    lines: &[&str],
    in_app: &InApp,
    read: fn(&[&str], &InApp) -> Vec<Frame>,
) -> Frames {
    let bytes: usize = lines.iter().map(|line| line.len() + 1).sum();
    if bytes > MAX_RUN {
        return read(lines, in_app).into();
    }
    let mut hasher = Xxh3::new();
    hasher.update(runtime.as_bytes());
    for prefixes in [&in_app.include, &in_app.exclude] {
        hasher.update(b"\0");
        for prefix in prefixes {
            hasher.update(prefix.as_bytes());
            hasher.update(b"\n");
        }
    }
    hasher.update(b"\0");
    for line in lines {
        hasher.update(line.as_bytes());
        hasher.update(b"\n");
    }
    let hash = hasher.digest();
    RUNS.with_borrow_mut(|runs| {
        if runs.is_empty() {
            runs.resize_with(SLOTS, || None);
        }
        let slot = &mut runs[hash as usize % SLOTS];
        if let Some(seen) = slot
            .as_ref()
            .filter(|seen| seen.hash == hash && same_text(&seen.text, lines))
        {
            return seen.frames.clone();
        }
        let frames = Frames::from(read(lines, in_app));
        let mut text = slot.take().map(|old| old.text).unwrap_or_default();
        text.clear();
        for line in lines {
            text.push_str(line);
            text.push('\n');
        }
        *slot = Some(Slot {
            hash,
            text,
            frames: frames.clone(),
        });
        frames
    })
}

/// Whether `text` is `lines`, each ended by `\n`.
fn same_text(mut text: &str, lines: &[&str]) -> bool {
    for line in lines {
        match text
            .strip_prefix(line)
            .and_then(|rest| rest.strip_prefix('\n'))
        {
            Some(rest) => text = rest,
            None => return false,
        }
    }
    text.is_empty()
}
