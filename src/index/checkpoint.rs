//! How far each file was indexed, saved in the tantivy commit payload with the documents it
//! produced: one commit holds both, so a crash leaves neither ahead of the other.

use std::collections::BTreeMap;
use std::fs::File;
use std::io;
use std::path::Path;

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64;

use crate::pipeline::Resume;

/// Version of the payload format; a payload of another version is refused.
pub const CHECKPOINT_VERSION: u32 = 1;

/// How many bytes from the start of a file identify it. Enough to cover a few log lines
/// (with their timestamps), so two files that start alike are still told apart; the length
/// actually hashed is stored, so a file that was shorter than this and grew still matches.
pub const HEAD_BYTES: u64 = 4096;

/// One file's identity and progress.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileCheckpoint {
    /// How many bytes of the stored file `head_hash` covers.
    pub head_len: u64,
    /// XXH3-64 of those bytes, hex.
    pub head_hash: String,
    /// Size of the stored file when it was last read.
    pub size: u64,
    /// Decoded offset just past the last indexed event.
    pub offset: u64,
    /// Lines before `offset`.
    pub line: u64,
    /// Events indexed from this file.
    pub events: u64,
    /// The file was read to its end without error.
    pub complete: bool,
}

/// Every file's checkpoint, keyed by canonical path.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoints {
    pub version: u32,
    pub files: BTreeMap<String, FileCheckpoint>,
}

/// What to do with a file given its checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// Same file, same size, read to its end: nothing new.
    Skip,
    /// Same file: read on from where the last commit stopped.
    Resume(Resume),
    /// A file never seen at this path, or another file now at the path.
    Fresh,
}

impl Checkpoints {
    /// Reads a commit payload (`None` for an index never committed).
    pub fn from_payload(payload: Option<&str>) -> Result<Self, String> {
        let Some(text) = payload.filter(|p| !p.is_empty()) else {
            return Ok(Checkpoints {
                version: CHECKPOINT_VERSION,
                files: BTreeMap::new(),
            });
        };
        let checkpoints: Checkpoints =
            serde_json::from_str(text).map_err(|e| format!("commit payload: {e}"))?;
        if checkpoints.version != CHECKPOINT_VERSION {
            return Err(format!(
                "commit payload version {} (this build reads {CHECKPOINT_VERSION})",
                checkpoints.version
            ));
        }
        Ok(checkpoints)
    }

    /// The payload text.
    pub fn to_payload(&self) -> String {
        serde_json::to_string(self).expect("checkpoints serialise")
    }
}

/// Identifies the file at `path` and decides, from its previous checkpoint, what to read.
/// Returns the plan and the checkpoint to continue from.
pub fn plan(path: &Path, previous: Option<&FileCheckpoint>) -> io::Result<(Plan, FileCheckpoint)> {
    let file = File::open(path)?;
    let size = file.metadata()?.len();
    let identity = |len: u64| -> io::Result<String> {
        let mut head = vec![0; len as usize];
        std::os::unix::fs::FileExt::read_exact_at(&file, &mut head, 0)?;
        Ok(format!("{:016x}", xxh3_64(&head)))
    };
    let fresh = FileCheckpoint {
        head_len: size.min(HEAD_BYTES),
        head_hash: identity(size.min(HEAD_BYTES))?,
        size,
        ..FileCheckpoint::default()
    };
    let Some(prev) = previous else {
        return Ok((Plan::Fresh, fresh));
    };
    let same_file = prev.head_len <= size && identity(prev.head_len)? == prev.head_hash;
    if !same_file {
        return Ok((Plan::Fresh, fresh));
    }
    if prev.complete && prev.size == size {
        return Ok((Plan::Skip, prev.clone()));
    }
    let resumed = FileCheckpoint {
        head_len: fresh.head_len,
        head_hash: fresh.head_hash,
        size,
        ..prev.clone()
    };
    Ok((
        Plan::Resume(Resume {
            offset: prev.offset,
            line: prev.line,
        }),
        resumed,
    ))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn same_grown_replaced_and_unchanged_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.log");
        std::fs::write(&path, "line 1\n").unwrap();
        let (first, mut cp) = plan(&path, None).unwrap();
        assert_eq!(first, Plan::Fresh);
        cp.offset = 7;
        cp.line = 1;
        cp.complete = true;
        assert_eq!(plan(&path, Some(&cp)).unwrap().0, Plan::Skip);
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"line 2\n")
            .unwrap();
        let (grown, next) = plan(&path, Some(&cp)).unwrap();
        assert_eq!(grown, Plan::Resume(Resume { offset: 7, line: 1 }));
        assert_eq!(next.head_len, 14);
        std::fs::write(&path, "other 1\nother 2\n").unwrap();
        assert_eq!(plan(&path, Some(&cp)).unwrap().0, Plan::Fresh);
    }

    #[test]
    fn payload_round_trip_and_versions() {
        let mut cps = Checkpoints::from_payload(None).unwrap();
        cps.files.insert(
            "/a.log".into(),
            FileCheckpoint {
                offset: 3,
                ..Default::default()
            },
        );
        let again = Checkpoints::from_payload(Some(&cps.to_payload())).unwrap();
        assert_eq!(again, cps);
        let old = cps.to_payload().replace("\"version\":1", "\"version\":0");
        assert!(Checkpoints::from_payload(Some(&old)).is_err());
    }
}
