//! The edge's saved state: every file's position as acknowledged by the central, written
//! atomically (a temporary file, fsync, rename, fsync of the directory) after each
//! acknowledged batch, and a lock so that two edges never share it.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::index::checkpoint::Checkpoints;

/// Version of the state file; a file of another version is refused.
const STATE_VERSION: u32 = 1;
const STATE_FILE: &str = "state.json";
const LOCK_FILE: &str = "lock";

/// What the state file holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Saved {
    version: u32,
    /// The edge's name when the state was last written.
    edge: String,
    /// Where the edge ships.
    central: String,
    checkpoints: Checkpoints,
}

/// The state directory, locked for as long as this lives.
#[derive(Debug)]
pub struct StateDir {
    dir: PathBuf,
    _lock: File,
}

/// What a state directory held when it was opened.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    /// The edge's name and its central then (empty for a new directory).
    pub edge: String,
    pub central: String,
    pub checkpoints: Checkpoints,
}

impl StateDir {
    /// Opens (creating it if needed) and locks `dir`; fails when another edge holds it.
    pub fn open(dir: &Path) -> Result<(StateDir, Loaded)> {
        let failed = |err: std::io::Error| Error::io(dir, err);
        std::fs::create_dir_all(dir).map_err(failed)?;
        let lock = File::create(dir.join(LOCK_FILE)).map_err(failed)?;
        lock.try_lock().map_err(|_| Error::Ship {
            what: format!(
                "{}: another stackfold ship uses this state directory",
                dir.display()
            ),
        })?;
        let loaded = load(&dir.join(STATE_FILE))?;
        Ok((
            StateDir {
                dir: dir.to_owned(),
                _lock: lock,
            },
            loaded,
        ))
    }

    /// Writes `checkpoints` as the acknowledged state, atomically.
    pub fn save(&self, edge: &str, central: &str, checkpoints: &Checkpoints) -> Result<()> {
        let saved = Saved {
            version: STATE_VERSION,
            edge: edge.to_owned(),
            central: central.to_owned(),
            checkpoints: checkpoints.clone(),
        };
        let text = serde_json::to_vec(&saved).expect("the state serialises");
        let path = self.dir.join(STATE_FILE);
        let temp = self.dir.join(format!("{STATE_FILE}.tmp"));
        let failed = |err: std::io::Error| Error::io(&path, err);
        let mut file = File::create(&temp).map_err(failed)?;
        file.write_all(&text).map_err(failed)?;
        file.sync_all().map_err(failed)?;
        std::fs::rename(&temp, &path).map_err(failed)?;
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(failed)
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }
}

fn load(path: &Path) -> Result<Loaded> {
    let text = match std::fs::read(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Loaded {
                checkpoints: Checkpoints::from_payload(None).map_err(Error::Checkpoints)?,
                ..Loaded::default()
            });
        }
        Err(err) => return Err(Error::io(path, err)),
    };
    let saved: Saved = serde_json::from_slice(&text).map_err(|err| Error::Ship {
        what: format!("{}: not a state file: {err}", path.display()),
    })?;
    if saved.version != STATE_VERSION {
        return Err(Error::Ship {
            what: format!(
                "{}: state version {} (this stackfold writes {STATE_VERSION})",
                path.display(),
                saved.version
            ),
        });
    }
    Ok(Loaded {
        edge: saved.edge,
        central: saved.central,
        checkpoints: saved.checkpoints,
    })
}

/// The default state directory: systemd's `$STATE_DIRECTORY`, else
/// `$XDG_STATE_HOME/stackfold/ship`, else `~/.local/state/stackfold/ship`.
pub fn default_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("STATE_DIRECTORY").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    let base = match std::env::var_os("XDG_STATE_HOME").filter(|d| !d.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME")?).join(".local/state"),
    };
    Some(base.join("stackfold/ship"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_state_reads_back_and_the_directory_is_held() {
        let dir = tempfile::tempdir().unwrap();
        let (state, loaded) = StateDir::open(dir.path()).unwrap();
        assert!(loaded.checkpoints.files.is_empty());
        let mut cps = loaded.checkpoints.clone();
        cps.files.entry("/l/a.log".into()).or_default().offset = 42;
        state.save("web01", "http://c", &cps).unwrap();
        let err = StateDir::open(dir.path()).unwrap_err();
        assert!(err.to_string().contains("another stackfold ship"), "{err}");
        drop(state);
        let (_state, loaded) = StateDir::open(dir.path()).unwrap();
        assert_eq!(loaded.edge, "web01");
        assert_eq!(loaded.checkpoints.files["/l/a.log"].offset, 42);
    }
}
