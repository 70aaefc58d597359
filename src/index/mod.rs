//! Stage 5, index: events into a tantivy index under `DATA/index`.
//!
//! In: events, in each file's order. Out: documents (see [`schema`]) committed in batches.
//! Every commit's payload holds each file's identity and how far it was read
//! ([`checkpoint`]), so the documents and the progress that produced them are durable
//! together: after a crash, a re-run resumes each file exactly after its last committed
//! event. Queries never see this module's writer; they open the index read-only.

pub mod blocks;
pub mod checkpoint;
mod directory;
pub mod document;
pub mod files;
pub mod ingest;
pub mod regroup;
pub mod schema;
pub mod space;
pub mod stored;
pub mod texts;
pub mod tokenizer;
mod writer;

use std::path::{Path, PathBuf};

use tantivy::Index;
use tantivy::directory::MmapDirectory;
use tantivy::directory::error::OpenDirectoryError;

use directory::ReadDirectory;
use tantivy::store::{Compressor, ZstdCompressor};

use crate::error::{Error, Result};
pub use ingest::{EventSink, Ingest, IngestCounters, Step};
pub use schema::{Fields, SCHEMA_VERSION};
pub use writer::{EventWriter, file_key};

/// The docstore block size: larger blocks compress logs better; a stored event is read by
/// decompressing its block. 256 KiB instead of 32 (issue 17, 11.2 M generated events): the
/// index 1,023 → 913 MB (0.68× → 0.61× the raw logs), the docstore alone −18 %, and every
/// search of `cargo bench --bench search_latency` still under 50 ms p99 (14–41 ms; 15–38
/// with 32 KiB in the run before). Indexes keep the block size they were created with.
pub(crate) const DOCSTORE_BLOCK_BYTES: usize = 256 * 1024;

/// zstd level of the docstore: level 1 compresses logs about as well as 3 at twice the speed,
/// and the docstore compressor thread is a sixth of the indexing CPU.
const DOCSTORE_ZSTD_LEVEL: i32 = 1;

/// Where the index lives under the data directory.
pub fn index_dir(data: &Path) -> PathBuf {
    data.join("index")
}

/// Opens the index under `data` for writing, creating it (and `data`) if needed.
pub fn open_or_create(data: &Path) -> Result<(Index, Fields)> {
    open_or_create_in(data, |dir| MmapDirectory::open(dir))
}

/// Opens the index under `data` for a server's reading (see [`directory`]), creating an empty
/// one (and `data`) if there is none: a central server starts before anything was sent to it.
pub fn open_or_create_for_reading(data: &Path) -> Result<(Index, Fields)> {
    open_or_create_in(data, ReadDirectory::open)
}

/// The directory `dir` (created if needed) opened by `directory`.
fn directory_at<D: tantivy::Directory>(
    dir: &Path,
    directory: impl FnOnce(&Path) -> Result<D, OpenDirectoryError>,
) -> Result<D> {
    std::fs::create_dir_all(dir).map_err(|source| Error::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    directory(dir).map_err(|source| Error::IndexDir {
        path: dir.to_path_buf(),
        source,
    })
}

/// Opens the index of `schema` at `dir`, beside the events' index (the frame blocks, the
/// texts), creating it with `settings` if there is none; `what` names it in errors.
fn open_side_index<D: tantivy::Directory>(
    dir: &Path,
    schema: tantivy::schema::Schema,
    settings: tantivy::IndexSettings,
    what: &str,
    directory: impl FnOnce(&Path) -> Result<D, OpenDirectoryError>,
) -> Result<Index> {
    let directory = directory_at(dir, directory)?;
    let index = tantivy::IndexBuilder::new()
        .schema(schema.clone())
        .settings(settings)
        .open_or_create(directory)
        .map_err(|source| Error::IndexOpen {
            path: dir.to_path_buf(),
            source,
        })?;
    if index.schema() != schema {
        return Err(Error::NotAnIndex {
            path: dir.to_path_buf(),
            message: format!("the {what} index has another schema than this build's"),
        });
    }
    Ok(index)
}

fn open_or_create_in<D: tantivy::Directory>(
    data: &Path,
    directory: impl FnOnce(&Path) -> Result<D, OpenDirectoryError>,
) -> Result<(Index, Fields)> {
    let dir = index_dir(data);
    let directory = directory_at(&dir, directory)?;
    let (schema, _) = schema::build();
    let index = Index::builder()
        .schema(schema)
        .settings(settings())
        .open_or_create(directory)
        .map_err(|source| Error::IndexOpen {
            path: dir.clone(),
            source,
        })?;
    finish_open(index, &dir)
}

/// The settings of a new index: the docstore's compression and block size.
pub fn settings() -> tantivy::IndexSettings {
    tantivy::IndexSettings {
        docstore_compression: Compressor::Zstd(ZstdCompressor {
            compression_level: Some(DOCSTORE_ZSTD_LEVEL),
        }),
        docstore_blocksize: DOCSTORE_BLOCK_BYTES,
        ..Default::default()
    }
}

/// Registers the tokenizers the schema names with `index`.
pub fn register_tokenizers(index: &Index) {
    index
        .tokenizers()
        .register(schema::CODE_TOKENIZER, tokenizer::CodeTokenizer::default());
}

/// Opens an existing index under `data`, mapped: for the commands that run once (`search`,
/// `check` reads whole files to checksum them, `prune` writes); the server reads through
/// [`open_or_create_for_reading`].
pub fn open(data: &Path) -> Result<(Index, Fields)> {
    let dir = index_dir(data);
    if !dir.join("meta.json").exists() {
        return Err(Error::NotAnIndex {
            path: data.to_path_buf(),
            message: "no index here (run `stackfold index` first)".into(),
        });
    }
    let index = Index::open_in_dir(&dir).map_err(|source| Error::IndexOpen {
        path: dir.clone(),
        source,
    })?;
    finish_open(index, &dir)
}

fn finish_open(index: Index, dir: &Path) -> Result<(Index, Fields)> {
    let other_schema = || Error::NotAnIndex {
        path: dir.to_path_buf(),
        message: format!(
            "the index has another schema than this build's (version {SCHEMA_VERSION}); index into a new --data directory"
        ),
    };
    let fields = Fields::from_schema(&index.schema()).map_err(|_| other_schema())?;
    if index.schema() != schema::build().0 {
        return Err(other_schema());
    }
    register_tokenizers(&index);
    Ok((index, fields))
}

/// The index's files whose checksums do not match their contents (tantivy writes a checksum
/// in every file's footer; reading does not verify it, so damage would go unseen), by path.
pub fn damaged_files(index: &Index) -> Result<Vec<PathBuf>> {
    let mut damaged: Vec<PathBuf> = index.validate_checksum()?.into_iter().collect();
    damaged.sort();
    Ok(damaged)
}

/// Indexes the log files at `paths` into `data` (created), one commit per file, each file
/// folded as `index` folds it (UTC, default settings): the tests' way to an index.
#[cfg(test)]
pub(crate) fn index_files_for_test(data: &Path, paths: &[PathBuf]) {
    let (index, fields) = open_or_create(data).unwrap();
    let mut writer = EventWriter::open(&index, fields, 32 << 20, 1)
        .and_then(|writer| writer.with_stores(data))
        .unwrap();
    let settings = crate::config::ConfigFile::default()
        .settings(Some("UTC"), 1, 2020)
        .unwrap();
    for path in paths {
        let (events, _) = crate::pipeline::collect_file(path.clone(), &settings);
        for event in events {
            writer.add(&file_key(path), event).unwrap();
        }
        writer.commit().unwrap();
    }
}
