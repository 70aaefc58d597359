//! Stage 2, decode: one door for plain, gzip and zstd input, chosen by magic bytes.
//!
//! In: a path (or `-` for standard input). Out: the decoded bytes as lines, each with its
//! byte offset in the decoded stream and its 1-based number, line endings (`\n`, `\r\n`)
//! removed. Plain files are read, gzip (multi-member, as `cat a.gz b.gz` makes) and zstd
//! (multi-frame) decoded, through a fixed buffer, so memory does not grow with the file. A
//! corrupt or truncated stream yields every line decoded before the damage, then an error
//! naming the file, the format and the decoded offset. A gzip file's checksums are checked
//! before it is read, so a damaged member is not read at all (see [`gzip`]). Nothing else in the crate may
//! construct a decompressor (see `clippy.toml`).

// This module is the one door `clippy.toml` leaves open for decoders.
#![allow(clippy::disallowed_types)]

mod gzip;
mod lines;

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

use flate2::bufread::MultiGzDecoder;

use crate::error::{Error, Result};
pub use lines::{LineReader, RawLine, Resume};

/// The formats recognised by their first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Plain,
    Gzip,
    Zstd,
}

impl Format {
    /// Recognises a format by the magic bytes at the start of `head`.
    pub fn sniff(head: &[u8]) -> Format {
        match head {
            [0x1f, 0x8b, ..] => Format::Gzip,
            [0x28, 0xb5, 0x2f, 0xfd, ..] => Format::Zstd,
            _ => Format::Plain,
        }
    }

    /// The lower-case name used in messages.
    pub fn name(self) -> &'static str {
        match self {
            Format::Plain => "plain",
            Format::Gzip => "gzip",
            Format::Zstd => "zstd",
        }
    }
}

/// Default cap on the decoded size of one file: far above any real log file, low enough
/// that a decompression bomb fails with a clear message instead of filling the disk
/// or the index.
pub const DEFAULT_MAX_DECODED_BYTES: u64 = 1 << 40;

/// An opened input: its format and a line reader over its decoded bytes.
pub struct Decoded {
    pub path: PathBuf,
    pub format: Format,
    /// The size of the file on disk (compressed size for compressed files), when known.
    pub stored_len: Option<u64>,
    pub lines: LineReader,
}

/// Opens `path` (`-` for standard input) and sniffs its format.
pub fn open(path: &Path, max_decoded: u64) -> Result<Decoded> {
    let io_err = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    if path.as_os_str() == "-" {
        let stdin = BufReader::with_capacity(lines::CHUNK, io::stdin());
        return stream(path, Box::new(stdin), None, max_decoded).map_err(io_err);
    }
    let file = match std::fs::metadata(path) {
        Ok(meta) if meta.file_type().is_fifo() => open_fifo(path).map_err(io_err)?,
        _ => File::open(path).map_err(io_err)?,
    };
    open_file(path, file, max_decoded)
}

/// How long a named FIFO may wait for its writer before stackfold says what it waits for.
const FIFO_QUIET: std::time::Duration = std::time::Duration::from_secs(1);

/// Opens a named FIFO for reading. Opening one blocks until a writer opens it, and a FIFO
/// nobody writes to would hang the run without a word: it is opened without blocking, and if
/// no data (or end) comes within [`FIFO_QUIET`], stackfold says on stderr that it waits for a
/// writer, as `cat` would wait, then waits.
fn open_fifo(path: &Path) -> io::Result<File> {
    use rustix::event::{PollFd, PollFlags, Timespec, poll};
    use rustix::fs::{OFlags, fcntl_getfl, fcntl_setfl};
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(OFlags::NONBLOCK.bits() as i32)
        .open(path)?;
    let quiet = Timespec::try_from(FIFO_QUIET).expect("a small duration");
    let mut timeout = Some(&quiet);
    loop {
        let mut fds = [PollFd::new(&file, PollFlags::IN)];
        match poll(&mut fds, timeout) {
            Ok(0) => {
                eprintln!(
                    "stackfold: {} is a FIFO without a writer: waiting for one (Ctrl-C stops)",
                    path.display()
                );
                timeout = None;
            }
            Ok(_) => break,
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    fcntl_setfl(&file, fcntl_getfl(&file)? - OFlags::NONBLOCK)?;
    Ok(file)
}

/// Reads `file`, already opened (by `open`, or by a caller that checked what it opened), as
/// the file at `path`.
pub fn open_file(path: &Path, file: File, max_decoded: u64) -> Result<Decoded> {
    let io_err = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let meta = file.metadata().map_err(io_err)?;
    let stored_len = meta.is_file().then_some(meta.len());
    if !meta.is_file() {
        // A pipe (`<(cmd)`), a FIFO or a device cannot be read at an offset: stream it.
        let reader = BufReader::with_capacity(lines::CHUNK, file);
        return stream(path, Box::new(reader), stored_len, max_decoded).map_err(io_err);
    }
    let mut head = [0u8; 4];
    let head_len = read_head(&file, &mut head).map_err(io_err)?;
    let format = Format::sniff(&head[..head_len]);
    if format == Format::Plain {
        if meta.len() == 0 {
            return Ok(Decoded {
                path: path.to_path_buf(),
                format: Format::Plain,
                stored_len,
                lines: LineReader::from_bytes(Vec::new()),
            });
        }
        // Read, not mapped: a log file is truncated under its readers by every copytruncate
        // rotation, and a mapped page past the new end kills the process with SIGBUS. Read,
        // a shrinking file just ends early (measured: no slower, the copy is a fraction of
        // what parsing costs).
        return Ok(Decoded {
            path: path.to_path_buf(),
            format: Format::Plain,
            stored_len,
            lines: LineReader::from_reader(Box::new(file), u64::MAX),
        });
    }
    let decoder = match format {
        Format::Gzip => gzip::open(file).map_err(io_err)?,
        _ => {
            let reader = BufReader::with_capacity(lines::CHUNK, file);
            decoder(Box::new(reader)).map_err(io_err)?.1
        }
    };
    Ok(Decoded {
        path: path.to_path_buf(),
        format,
        stored_len,
        lines: LineReader::from_reader(decoder, max_decoded),
    })
}

/// The format of the file at `path` and up to `len` decoded bytes from its start: what
/// identifies a file's content, so a rotated copy compressed later is recognised.
pub fn head(path: &Path, len: usize) -> io::Result<(Format, Vec<u8>)> {
    let file = File::open(path)?;
    let mut head = Vec::with_capacity(len);
    let (format, decoder) = decoder(Box::new(BufReader::new(file)))?;
    decoder.take(len as u64).read_to_end(&mut head)?;
    Ok((format, head))
}

/// Reads up to `buf.len()` bytes from the start of `file` without moving its cursor.
fn read_head(file: &File, buf: &mut [u8]) -> io::Result<usize> {
    use std::os::unix::fs::FileExt;
    let mut filled = 0;
    while filled < buf.len() {
        match file.read_at(&mut buf[filled..], filled as u64) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

fn stream(
    path: &Path,
    reader: Box<dyn BufRead + Send>,
    stored_len: Option<u64>,
    max_decoded: u64,
) -> io::Result<Decoded> {
    let (format, decoder) = decoder(reader)?;
    Ok(Decoded {
        path: path.to_path_buf(),
        format,
        stored_len,
        lines: LineReader::from_reader(decoder, max_decoded),
    })
}

/// The decoder for the format `reader` starts with.
fn decoder(mut reader: Box<dyn BufRead + Send>) -> io::Result<(Format, Box<dyn Read + Send>)> {
    let format = Format::sniff(reader.fill_buf()?);
    let decoder: Box<dyn Read + Send> = match format {
        Format::Plain => reader,
        Format::Gzip => Box::new(MultiGzDecoder::new(reader)),
        Format::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(reader)?),
    };
    Ok((format, decoder))
}

/// Why a request body could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// It decodes to more than the cap (a gzip bomb, or simply too much).
    #[error("decoded body exceeds {cap} bytes")]
    TooLarge { cap: usize },
    /// It is not valid gzip or zstd; `offset` counts the bytes decoded before the damage.
    #[error("{format} body is corrupt after {offset} decoded bytes")]
    Corrupt {
        format: &'static str,
        offset: usize,
        #[source]
        source: io::Error,
    },
}

/// Decodes a request body that is plain, gzip or zstd (told apart by its first bytes, not by
/// the `Content-Encoding` a client claims), refusing to grow past `cap` decoded bytes.
pub fn body(bytes: &[u8], cap: usize) -> Result<Vec<u8>, BodyError> {
    let format = Format::sniff(bytes);
    if format == Format::Plain {
        if bytes.len() > cap {
            return Err(BodyError::TooLarge { cap });
        }
        return Ok(bytes.to_vec());
    }
    let reader: Box<dyn BufRead + Send> = Box::new(io::Cursor::new(bytes.to_vec()));
    let corrupt = |offset, source| BodyError::Corrupt {
        format: format.name(),
        offset,
        source,
    };
    let (_, decoder) = decoder(reader).map_err(|e| corrupt(0, e))?;
    let mut out = Vec::new();
    // One byte past the cap tells a body of exactly `cap` bytes from a larger one.
    decoder
        .take(cap as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| corrupt(out.len(), e))?;
    if out.len() > cap {
        return Err(BodyError::TooLarge { cap });
    }
    Ok(out)
}

impl Decoded {
    /// Turns an error from [`LineReader::next_line`] into one that names the file, the format
    /// and the decoded offset where reading stopped.
    pub fn error(&self, err: io::Error) -> Error {
        if err.kind() == io::ErrorKind::FileTooLarge {
            return Error::TooLarge {
                path: self.path.clone(),
                cap: self.lines.max_decoded(),
            };
        }
        let offset = self.lines.decoded_offset();
        match self.format {
            Format::Plain => Error::Io {
                path: self.path.clone(),
                source: err,
            },
            format => Error::Corrupt {
                path: self.path.clone(),
                format: format.name(),
                offset,
                message: err.to_string(),
            },
        }
    }
}

#[cfg(test)]
mod tests;
