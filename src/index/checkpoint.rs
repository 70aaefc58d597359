//! How far each file was indexed, saved in the tantivy commit payload with the documents it
//! produced: one commit holds both, so a crash leaves neither ahead of the other.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64;

use crate::decode::Resume;
use crate::error::CheckpointError;

/// Version of the payload format; a payload of another version is refused.
pub const CHECKPOINT_VERSION: u32 = 1;

/// How many bytes from the start of a file identify it. Enough to cover a few log lines
/// (with their timestamps), so two files that start alike are still told apart; the length
/// actually hashed is stored, so a file that was shorter than this and grew still matches.
pub const HEAD_BYTES: u64 = 4096;

/// Fewest head bytes that make a file another's copy by content alone (see
/// [`Found::copies`]): longer than a banner or header line, shorter than a log line or two.
pub const MIN_COPY_HEAD: u64 = 64;

/// One file's identity and progress.
///
/// A file is known by the hash of its first decoded bytes, checked against its device and
/// inode and against how far it was read. That survives what breaks simpler schemes: a
/// renamed file keeps its inode and head (rename rotation); a compressed rotated copy has
/// another inode but the same decoded head; a new file that reuses a deleted file's inode has
/// another head; a file truncated and rewritten (copytruncate) is shorter than what was read
/// or starts with other bytes; and a new file that starts with the same first line as the
/// old one differs within the hashed head, which covers up to [`HEAD_BYTES`] and grows with
/// the file (the Logstash sincedb and Vector checksum bugs).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileCheckpoint {
    /// The path the file was last seen at (older payloads: the key).
    #[serde(default)]
    pub path: String,
    /// Device and inode of the file last seen; 0 when unknown.
    #[serde(default)]
    pub dev: u64,
    #[serde(default)]
    pub ino: u64,
    /// How many decoded bytes from the start `head_hash` covers.
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
    /// When this entry last changed, in seconds since the epoch (0: before this was kept).
    #[serde(default)]
    pub updated: i64,
    /// The name a shipping edge gives this file's events at the central (`ship`): made when
    /// the file is first read and kept by whatever continues it (a rename, a compressed
    /// copy), so the central tells its events from every other file's. Empty in an index.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub stream: String,
}

/// Every file's checkpoint. Keys are opaque and unique: the path where the file was first
/// seen, with `#2`, `#3`... when an earlier file at that path still has its own entry (a
/// rotated file whose name was taken by its successor).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Checkpoints {
    pub version: u32,
    pub files: BTreeMap<String, FileCheckpoint>,
    /// The streams of shipped documents (network inputs), by stream key.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub streams: BTreeMap<String, StreamCheckpoint>,
}

/// One stream of shipped documents: how far its events were indexed, and the lines of its
/// open event, which were acknowledged to the shipper but belong to no indexed event yet.
/// Committed with the events, so an acknowledged line is in exactly one of the two.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StreamCheckpoint {
    /// The stream's position: bytes (of its lines, each with a newline) just past its last
    /// indexed event, as if the stream were a file.
    pub offset: u64,
    /// Lines before `offset`.
    pub line: u64,
    /// Events indexed from this stream.
    pub events: u64,
    /// When this entry last changed, in seconds since the epoch.
    pub updated: i64,
    /// The shipped file's path, if the shipper gave one, and the metadata its documents
    /// gave: what a stream is shown with after a restart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default)]
    pub meta: crate::event::FileMeta,
    /// The lines received after `offset`, in order.
    #[serde(default)]
    pub pending: Vec<PendingLine>,
}

/// A line received but not yet part of an indexed event, with what its document said.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PendingLine {
    /// Where it starts in the stream (see [`StreamCheckpoint::offset`]).
    pub offset: u64,
    pub text: String,
    /// The shipper's `_id`, on the first line of its document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The document's own fields, on the first line of its document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub doc: Option<DocFields>,
}

/// What a shipped document says besides its text: used for an event whose first line has no
/// header of its own.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DocFields {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ts: Option<jiff::Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<crate::event::Level>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logger: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread: Option<String>,
    /// The document is a whole record: it starts an event.
    #[serde(default)]
    pub whole: bool,
    /// The document's other fields (see `Event::fields`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, String>,
}

/// What to do with a file given its checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// Same file, same size, read to its end: nothing new.
    Skip,
    /// Same content as before: read on from where the last commit stopped.
    Resume(Resume),
    /// Content never seen.
    Fresh,
}

impl Checkpoints {
    /// Reads a commit payload (`None` for an index never committed).
    pub fn from_payload(payload: Option<&str>) -> Result<Self, CheckpointError> {
        let Some(text) = payload.filter(|p| !p.is_empty()) else {
            return Ok(Checkpoints {
                version: CHECKPOINT_VERSION,
                ..Checkpoints::default()
            });
        };
        let mut checkpoints: Checkpoints = serde_json::from_str(text)?;
        if checkpoints.version != CHECKPOINT_VERSION {
            return Err(CheckpointError::Version {
                found: checkpoints.version,
                expected: CHECKPOINT_VERSION,
            });
        }
        for (key, cp) in &mut checkpoints.files {
            if cp.path.is_empty() {
                cp.path.clone_from(key);
            }
        }
        Ok(checkpoints)
    }

    /// The payload text.
    pub fn to_payload(&self) -> String {
        serde_json::to_string(self).expect("checkpoints serialise")
    }

    /// Decides for each file found what to read, matching it to the checkpoint it continues:
    /// first by device, inode and head (the same file, perhaps renamed), then by path and
    /// head (an index moved with its logs), then by head alone among checkpoints whose file
    /// is gone from its path (a rotated copy, compressed or copied before a truncation).
    /// Checkpoints whose keys are in `busy` are being read elsewhere and are not matched.
    pub fn plan(&self, found: Vec<Found>, busy: &HashSet<String>) -> Vec<Planned> {
        let mut by_inode: HashMap<(u64, u64), Vec<&str>> = HashMap::new();
        let mut by_path: HashMap<&str, Vec<&str>> = HashMap::new();
        let mut by_head: HashMap<(u64, &str), Vec<&str>> = HashMap::new();
        for (key, cp) in &self.files {
            if cp.ino != 0 {
                by_inode.entry((cp.dev, cp.ino)).or_default().push(key);
            }
            by_path.entry(&cp.path).or_default().push(key);
            if cp.head_len > 0 {
                by_head
                    .entry((cp.head_len, &cp.head_hash))
                    .or_default()
                    .push(key);
            }
        }
        let mut head_lens: Vec<u64> = by_head.keys().map(|(len, _)| *len).collect();
        head_lens.sort_unstable();
        head_lens.dedup();
        // Checkpoints whose first bytes `f` starts with.
        let same_head = |f: &Found| -> Vec<&str> {
            let lens = head_lens
                .iter()
                .take_while(|&&len| len <= f.head.len() as u64);
            lens.flat_map(|&len| {
                let h = hash(&f.head[..len as usize]);
                by_head.get(&(len, h.as_str())).cloned().unwrap_or_default()
            })
            .filter(|key| f.copies(&self.files[*key]))
            .collect()
        };
        let mut claimed: HashSet<&str> = busy.iter().map(String::as_str).collect();
        let mut matched: Vec<Option<&str>> = vec![None; found.len()];
        for pass in 0..3 {
            for (i, f) in found.iter().enumerate() {
                if matched[i].is_some() {
                    continue;
                }
                let candidates: Vec<&str> = match pass {
                    0 => by_inode.get(&(f.dev, f.ino)).cloned().unwrap_or_default(),
                    1 => by_path
                        .get(f.key_path().as_str())
                        .cloned()
                        .unwrap_or_default(),
                    _ => same_head(f)
                        .into_iter()
                        .filter(|key| !still_at_path(&self.files[*key]))
                        .collect(),
                };
                let hit = candidates
                    .into_iter()
                    .find(|key| !claimed.contains(key) && f.continues(&self.files[*key]));
                if let Some(key) = hit {
                    claimed.insert(key);
                    matched[i] = Some(key);
                }
            }
        }
        let mut taken: HashSet<String> = self.files.keys().cloned().collect();
        found
            .into_iter()
            .zip(matched)
            .map(|(f, key)| match key {
                Some(key) => {
                    let prev = &self.files[key];
                    let plan = if prev.complete
                        && prev.size == f.size
                        && (prev.dev, prev.ino) == (f.dev, f.ino)
                    {
                        Plan::Skip
                    } else {
                        Plan::Resume(Resume {
                            offset: prev.offset,
                            line: prev.line,
                        })
                    };
                    let checkpoint = FileCheckpoint {
                        size: f.size,
                        ..f.checkpoint_from(prev)
                    };
                    Planned {
                        key: key.to_owned(),
                        plan,
                        checkpoint,
                        copy_of: None,
                        found: f,
                    }
                }
                None => {
                    let key = unique_key(&f.key_path(), &mut taken);
                    let copy_of = same_head(&f).into_iter().next().map(str::to_owned);
                    Planned {
                        key,
                        plan: Plan::Fresh,
                        checkpoint: f.checkpoint_from(&FileCheckpoint::default()),
                        copy_of,
                        found: f,
                    }
                }
            })
            .collect()
    }
}

/// A file's plan, and the checkpoint to continue from.
#[derive(Debug, Clone)]
pub struct Planned {
    pub found: Found,
    /// The checkpoint key it continues, or a new one.
    pub key: String,
    pub plan: Plan,
    /// Its identity now, with the progress of the checkpoint it continues.
    pub checkpoint: FileCheckpoint,
    /// For a fresh file: a known file, still in place, that it starts like. A follower waits a
    /// little before reading such a file (it may be the copy half of a copytruncate, or a
    /// compressed copy whose original is about to be removed), then takes it for a copy.
    /// `index` reads it as a file of its own.
    pub copy_of: Option<String>,
}

/// A file on disk, identified.
#[derive(Debug, Clone)]
pub struct Found {
    /// Canonical path.
    pub path: PathBuf,
    pub dev: u64,
    pub ino: u64,
    /// Size on disk.
    pub size: u64,
    /// Its first [`HEAD_BYTES`] decoded bytes (fewer if it is shorter).
    pub head: Vec<u8>,
    /// Not compressed: decoded offsets are offsets in the file.
    pub plain: bool,
}

impl Found {
    /// Reads the identity of the file at `path` (canonicalised).
    pub fn identify(path: &Path) -> io::Result<Found> {
        let path = std::fs::canonicalize(path)?;
        let meta = std::fs::metadata(&path)?;
        let (format, head) = crate::decode::head(&path, HEAD_BYTES as usize)?;
        Ok(Found {
            plain: format == crate::decode::Format::Plain,
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.len(),
            head,
            path,
        })
    }

    fn key_path(&self) -> String {
        self.path.to_string_lossy().into_owned()
    }

    /// Whether this file holds what `cp` describes: the same first bytes, and (for a plain
    /// file) at least as many bytes as were read from it.
    pub fn continues(&self, cp: &FileCheckpoint) -> bool {
        let Some(head) = self.head.get(..cp.head_len as usize) else {
            return false;
        };
        let truncated = self.plain && self.size < cp.offset;
        hash(head) == cp.head_hash && !truncated && (cp.head_len > 0 || cp.offset == 0)
    }

    /// Whether this file holds what `cp` describes, judged by content alone. A head shorter
    /// than [`MIN_COPY_HEAD`] says too little: many files start with the same banner or
    /// header line, and a new one is not a copy of an old one for that.
    fn copies(&self, cp: &FileCheckpoint) -> bool {
        cp.head_len >= MIN_COPY_HEAD && self.continues(cp)
    }

    /// `prev` with this file's identity.
    fn checkpoint_from(&self, prev: &FileCheckpoint) -> FileCheckpoint {
        FileCheckpoint {
            path: self.key_path(),
            dev: self.dev,
            ino: self.ino,
            head_len: self.head.len() as u64,
            head_hash: hash(&self.head),
            size: self.size,
            ..prev.clone()
        }
    }
}

impl Checkpoints {
    /// Starts (or restarts) the file `key` at checkpoint `from`.
    pub fn begin_file(&mut self, key: &str, from: FileCheckpoint) {
        let cp = FileCheckpoint {
            complete: false,
            updated: now_secs(),
            ..from
        };
        self.files.insert(key.to_owned(), cp);
    }

    /// Moves the file `key` past `event`, its next event.
    pub fn advance(&mut self, key: &str, event: &crate::event::Event) {
        let cp = self.file_entry(key);
        cp.offset = event.end_offset;
        cp.line = event.line + u64::from(event.lines) - 1;
        cp.events += 1;
    }

    /// The checkpoint of `key`, a new one if there is none. Looked up before inserted: on
    /// the per-event path the key is there, and `entry` would allocate it each time.
    pub fn file_entry(&mut self, key: &str) -> &mut FileCheckpoint {
        if !self.files.contains_key(key) {
            self.files.insert(key.to_owned(), FileCheckpoint::default());
        }
        self.files.get_mut(key).expect("inserted above")
    }

    /// Marks the file `key` read to its end (or not, after an error).
    pub fn end_file(&mut self, key: &str, complete: bool) {
        if let Some(cp) = self.files.get_mut(key) {
            cp.complete = complete;
            cp.updated = now_secs();
        }
    }

    /// The checkpoint of `key`, to update what identifies the file, marked as changed now.
    pub fn file_mut(&mut self, key: &str) -> Option<&mut FileCheckpoint> {
        let cp = self.files.get_mut(key)?;
        cp.updated = now_secs();
        Some(cp)
    }

    /// Drops the entries of files gone from their paths whose entries have not changed for
    /// `max_age_secs`, except those in `busy`: a tailer rotating hourly adds thousands of
    /// entries a year, and the whole map is written with every commit. A gone file's entry
    /// is kept a while because a compressed copy of it may still appear.
    pub fn forget_gone(&mut self, max_age_secs: i64, busy: &HashSet<String>) -> usize {
        let cutoff = jiff::Timestamp::now().as_second() - max_age_secs;
        let before = self.files.len();
        self.files
            .retain(|key, cp| busy.contains(key) || cp.updated >= cutoff || still_at_path(cp));
        before - self.files.len()
    }
}

/// Whether the file `cp` describes is still at its path.
fn still_at_path(cp: &FileCheckpoint) -> bool {
    let Ok(meta) = std::fs::metadata(&cp.path) else {
        return false;
    };
    if cp.ino != 0 && (meta.dev(), meta.ino()) != (cp.dev, cp.ino) {
        return false;
    }
    Found::identify(Path::new(&cp.path)).is_ok_and(|f| f.continues(cp))
}

fn unique_key(path: &str, taken: &mut HashSet<String>) -> String {
    let mut key = path.to_owned();
    let mut n = 1;
    while taken.contains(&key) {
        n += 1;
        key = format!("{path}#{n}");
    }
    taken.insert(key.clone());
    key
}

fn now_secs() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// The head hash as stored.
pub fn hash(head: &[u8]) -> String {
    format!("{:016x}", xxh3_64(head))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    /// Plans `paths` against `cps` and records each planned file as read to its end, as an
    /// indexing run would; returns the plans.
    fn plan_and_read(cps: &mut Checkpoints, paths: &[&Path]) -> Vec<Plan> {
        let found = paths.iter().map(|p| Found::identify(p).unwrap()).collect();
        let planned = cps.plan(found, &HashSet::new());
        planned
            .into_iter()
            .map(|p| {
                let decoded = std::fs::read(&p.found.path).unwrap();
                let decoded = match crate::decode::Format::sniff(&decoded) {
                    crate::decode::Format::Plain => decoded.len() as u64,
                    _ => p.checkpoint.offset.max(p.found.head.len() as u64),
                };
                let lines = std::fs::read(&p.found.path).unwrap();
                let line = lines.iter().filter(|&&b| b == b'\n').count() as u64;
                cps.files.insert(
                    p.key.clone(),
                    FileCheckpoint {
                        offset: decoded,
                        line,
                        complete: true,
                        ..p.checkpoint
                    },
                );
                p.plan
            })
            .collect()
    }

    /// Log lines long enough for their files to be recognised by content.
    const L1: &str = "2024-03-01 10:00:01,000 INFO  [main] com.acme.App - first line\n";
    const L2: &str = "2024-03-01 10:00:02,000 INFO  [main] com.acme.App - other line\n";
    const L3: &str = "2024-03-01 10:00:03,000 INFO  [main] com.acme.App - third line\n";
    const L: u64 = L1.len() as u64;

    fn append(path: &Path, text: &str) {
        let mut file = std::fs::OpenOptions::new().append(true).open(path).unwrap();
        file.write_all(text.as_bytes()).unwrap();
    }

    #[test]
    fn same_grown_replaced_and_unchanged_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.log");
        let mut cps = Checkpoints::default();
        std::fs::write(&path, "line 1\n").unwrap();
        assert_eq!(plan_and_read(&mut cps, &[&path]), [Plan::Fresh]);
        assert_eq!(plan_and_read(&mut cps, &[&path]), [Plan::Skip]);
        append(&path, "line 2\n");
        let grown = Plan::Resume(Resume { offset: 7, line: 1 });
        assert_eq!(plan_and_read(&mut cps, &[&path]), [grown]);
        assert_eq!(cps.files.len(), 1);
        // Replaced by a file that starts with the same line: another file.
        std::fs::remove_file(&path).unwrap();
        std::fs::write(&path, "line 1\nother 2\nother 3\n").unwrap();
        assert_eq!(plan_and_read(&mut cps, &[&path]), [Plan::Fresh]);
        // Truncated and rewritten in place (copytruncate): shorter than what was read.
        std::fs::write(&path, "line 1\n").unwrap();
        assert_eq!(plan_and_read(&mut cps, &[&path]), [Plan::Fresh]);
    }

    #[test]
    fn renamed_and_compressed_rotations_continue_where_reading_stopped() {
        let dir = tempfile::tempdir().unwrap();
        let live = dir.path().join("app.log");
        let rotated = dir.path().join("app.log.1");
        let mut cps = Checkpoints::default();
        std::fs::write(&live, &(L1.to_owned() + L2)).unwrap();
        assert_eq!(plan_and_read(&mut cps, &[&live]), [Plan::Fresh]);
        // Rename + create; the old file got one more line before the writer reopened.
        append(&live, L3);
        std::fs::rename(&live, &rotated).unwrap();
        std::fs::write(&live, "b 1\n").unwrap();
        let plans = plan_and_read(&mut cps, &[&live, &rotated]);
        let rest = Plan::Resume(Resume {
            offset: 2 * L,
            line: 2,
        });
        assert_eq!(plans, [Plan::Fresh, rest]);
        assert_eq!(cps.files.len(), 2, "the new file got its own key");
        // The rotated file is compressed and removed: recognised as read.
        let gz = dir.path().join("app.log.1.gz");
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(&std::fs::read(&rotated).unwrap()).unwrap();
        std::fs::write(&gz, enc.finish().unwrap()).unwrap();
        std::fs::remove_file(&rotated).unwrap();
        let plans = plan_and_read(&mut cps, &[&live, &gz]);
        let at_end = Plan::Resume(Resume {
            offset: 3 * L,
            line: 3,
        });
        assert_eq!(plans, [Plan::Skip, at_end]);
    }

    #[test]
    fn a_copy_is_new_while_its_original_is_in_place_and_continues_it_once_truncated() {
        let dir = tempfile::tempdir().unwrap();
        let live = dir.path().join("app.log");
        let copy = dir.path().join("app.log.1");
        let mut cps = Checkpoints::default();
        std::fs::write(&live, &(L1.to_owned() + L2)).unwrap();
        plan_and_read(&mut cps, &[&live]);
        std::fs::copy(&live, &copy).unwrap();
        let found = vec![Found::identify(&copy).unwrap()];
        let twin = &cps.plan(found, &HashSet::new())[0];
        assert_eq!(
            twin.plan,
            Plan::Fresh,
            "a twin of a file still in place is its own file"
        );
        let original = cps.files.keys().next().unwrap();
        assert_eq!(
            twin.copy_of.as_ref(),
            Some(original),
            "but it is known for a copy"
        );
        let found = vec![
            Found::identify(&live).unwrap(),
            Found::identify(&copy).unwrap(),
        ];
        let both = cps.plan(found, &HashSet::new());
        assert_eq!(both[1].copy_of.as_deref(), Some(both[0].key.as_str()));
        // copytruncate: the original is emptied and written again.
        std::fs::write(&live, "b 1\n").unwrap();
        let plans = plan_and_read(&mut cps, &[&live, &copy]);
        assert_eq!(
            plans,
            [
                Plan::Fresh,
                Plan::Resume(Resume {
                    offset: 2 * L,
                    line: 2
                })
            ]
        );
    }

    #[test]
    fn positions_of_files_gone_for_long_are_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let kept = dir.path().join("kept.log");
        let gone = dir.path().join("gone.log");
        let mut cps = Checkpoints::default();
        std::fs::write(&kept, "a\n").unwrap();
        std::fs::write(&gone, "b\n").unwrap();
        plan_and_read(&mut cps, &[&kept, &gone]);
        std::fs::remove_file(&gone).unwrap();
        for cp in cps.files.values_mut() {
            cp.updated = jiff::Timestamp::now().as_second();
        }
        let week = 7 * 24 * 3600;
        assert_eq!(
            cps.forget_gone(week, &HashSet::new()),
            0,
            "gone only just now"
        );
        for cp in cps.files.values_mut() {
            cp.updated = jiff::Timestamp::now().as_second() - week - 1;
        }
        let busy: HashSet<String> = cps.files.keys().cloned().collect();
        assert_eq!(cps.forget_gone(week, &busy), 0, "being read");
        assert_eq!(cps.forget_gone(week, &HashSet::new()), 1);
        let left: Vec<&str> = cps.files.values().map(|cp| cp.path.as_str()).collect();
        assert_eq!(left, [kept.canonicalize().unwrap().to_str().unwrap()]);
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
        cps.files.get_mut("/a.log").unwrap().path = "/a.log".into();
        let again = Checkpoints::from_payload(Some(&cps.to_payload())).unwrap();
        assert_eq!(again, cps);
        let old = cps.to_payload().replace("\"version\":1", "\"version\":0");
        assert!(Checkpoints::from_payload(Some(&old)).is_err());
        // Payloads written before files carried their path: the key was the path.
        let before = r#"{"version":1,"files":{"/b.log":{"head_len":1,"head_hash":"x","size":1,"offset":1,"line":1,"events":1,"complete":true}}}"#;
        let read = Checkpoints::from_payload(Some(before)).unwrap();
        assert_eq!(read.files["/b.log"].path, "/b.log");
    }
}
