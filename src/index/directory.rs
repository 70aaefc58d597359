//! The index directory of readers: files are read, not memory-mapped.
//!
//! tantivy's `MmapDirectory` maps every index file. A mapped page past the end of a file that
//! shrank (damage, or a hand that truncated it) kills the process with SIGBUS, nothing
//! printed: a long-running server must not die of that. Here reads go through `pread`: a
//! file that shrank gives an error for the query that needed it, naming the file, and the
//! server goes on. Everything else (writing, locks, watching `meta.json`) is the
//! `MmapDirectory`'s. What tantivy keeps for a whole segment (fast fields, field norms, the
//! term dictionary) is read once when the segment is opened; postings and stored documents
//! are read per query, from the page cache.

use std::fs::File;
use std::io;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tantivy::Directory;
use tantivy::HasLen;
use tantivy::directory::error::{DeleteError, LockError, OpenReadError, OpenWriteError};
use tantivy::directory::{
    DirectoryLock, FileHandle, Lock, MmapDirectory, OwnedBytes, WatchCallback, WatchHandle,
    WritePtr,
};

#[derive(Debug, Clone)]
pub struct ReadDirectory {
    root: PathBuf,
    inner: MmapDirectory,
}

impl ReadDirectory {
    pub fn open(root: &Path) -> Result<Self, tantivy::directory::error::OpenDirectoryError> {
        Ok(ReadDirectory {
            root: root.to_path_buf(),
            inner: MmapDirectory::open(root)?,
        })
    }
}

/// An index file, read at offsets.
#[derive(Debug)]
struct ReadFile {
    path: PathBuf,
    file: File,
    len: usize,
}

impl HasLen for ReadFile {
    fn len(&self) -> usize {
        self.len
    }
}

impl FileHandle for ReadFile {
    fn read_bytes(&self, range: Range<usize>) -> io::Result<OwnedBytes> {
        let mut bytes = vec![0; range.len()];
        self.file
            .read_exact_at(&mut bytes, range.start as u64)
            .map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!(
                        "{}: bytes {}..{} of an index file of {} bytes could not be read ({e}); \
                         was it truncated? `stackfold check` tells",
                        self.path.display(),
                        range.start,
                        range.end,
                        self.len
                    ),
                )
            })?;
        Ok(OwnedBytes::new(bytes))
    }
}

impl Directory for ReadDirectory {
    fn get_file_handle(&self, path: &Path) -> Result<Arc<dyn FileHandle>, OpenReadError> {
        let full = self.root.join(path);
        let file = File::open(&full).map_err(|io_error| {
            if io_error.kind() == io::ErrorKind::NotFound {
                OpenReadError::FileDoesNotExist(path.to_path_buf())
            } else {
                OpenReadError::wrap_io_error(io_error, path.to_path_buf())
            }
        })?;
        let len = file
            .metadata()
            .map_err(|e| OpenReadError::wrap_io_error(e, path.to_path_buf()))?
            .len() as usize;
        Ok(Arc::new(ReadFile {
            path: full,
            file,
            len,
        }))
    }

    fn delete(&self, path: &Path) -> Result<(), DeleteError> {
        self.inner.delete(path)
    }

    fn exists(&self, path: &Path) -> Result<bool, OpenReadError> {
        self.inner.exists(path)
    }

    fn open_write(&self, path: &Path) -> Result<WritePtr, OpenWriteError> {
        self.inner.open_write(path)
    }

    fn atomic_read(&self, path: &Path) -> Result<Vec<u8>, OpenReadError> {
        self.inner.atomic_read(path)
    }

    fn atomic_write(&self, path: &Path, data: &[u8]) -> io::Result<()> {
        self.inner.atomic_write(path, data)
    }

    fn sync_directory(&self) -> io::Result<()> {
        self.inner.sync_directory()
    }

    fn acquire_lock(&self, lock: &Lock) -> Result<DirectoryLock, LockError> {
        self.inner.acquire_lock(lock)
    }

    fn watch(&self, watch_callback: WatchCallback) -> tantivy::Result<WatchHandle> {
        self.inner.watch(watch_callback)
    }
}
