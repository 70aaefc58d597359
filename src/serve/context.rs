//! The lines around an event in its source file.

use std::collections::VecDeque;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

use serde::Serialize;

use crate::decode;
use crate::index::checkpoint::{FileCheckpoint, hash};

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

/// Lines `first - before ..= last + after` of the file the index read as `cp`, where the
/// event spans `first..=last`. `None` when that file can no longer be read, or what is at its
/// path now is not it.
///
/// Only a file this index read is opened, and only if it is still that file: its final path
/// component is not followed if it became a link, anything but a regular file (a FIFO, a
/// device) is refused without blocking, its device and inode must be those recorded, and its
/// first bytes must hash as recorded. Whoever can write into a log directory cannot make the
/// server read another file through it.
pub fn lines_around(
    cp: &FileCheckpoint,
    first: u64,
    last: u64,
    before: u64,
    after: u64,
) -> Option<Vec<ContextLine>> {
    let path = Path::new(&cp.path);
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .ok()?;
    let meta = file.metadata().ok()?;
    if !meta.is_file() || (cp.ino != 0 && (meta.dev(), meta.ino()) != (cp.dev, cp.ino)) {
        return None;
    }
    let mut decoded = decode::open_file(path, file, decode::DEFAULT_MAX_DECODED_BYTES).ok()?;
    let mut window: VecDeque<ContextLine> = VecDeque::new();
    let start = first.saturating_sub(before).max(1);
    let end = last.saturating_add(after);
    let head_len = cp.head_len as usize;
    let mut head: Vec<u8> = Vec::with_capacity(head_len);
    while let Ok(Some(raw)) = decoded.lines.next_line() {
        if head.len() < head_len {
            // The line as written, with its ending, for the identity check.
            let ending = (raw.end - raw.offset) as usize - raw.bytes.len();
            head.extend_from_slice(raw.bytes);
            head.extend_from_slice(&b"\r\n"[2 - ending.min(2)..]);
        }
        if raw.number > end {
            if head.len() >= head_len {
                break;
            }
            continue;
        }
        if raw.number >= start {
            window.push_back(ContextLine {
                number: raw.number,
                text: String::from_utf8_lossy(raw.bytes).into_owned(),
                in_event: (first..=last).contains(&raw.number),
            });
        }
    }
    head.truncate(head_len);
    // A file whose first bytes were never hashed (it was empty when read) has nothing to
    // compare: its events, if any, came after, and the device and inode were checked.
    let same = head_len == 0 || hash(&head) == cp.head_hash;
    same.then(|| window.into())
}
