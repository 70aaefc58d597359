//! Splitting decoded bytes into lines, over a memory map or a stream read in chunks.

use std::io::{self, Read};

use memchr::memchr;

/// How much a stream is read at a time. Large enough that the per-read cost vanishes
/// against decoding; small enough that many files in flight stay cheap.
pub const CHUNK: usize = 256 * 1024;

/// Longest line passed on whole; a longer one is passed on in pieces of this size, so one
/// runaway line (a minified blob, a binary file) cannot exhaust memory. The fold stage's
/// event cap then marks the event truncated.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// First buffer of a followed file: live files grow by a few lines at a time, and many are
/// followed at once. The buffer doubles when a line needs it.
const FOLLOW_CHUNK: usize = 64 * 1024;

/// Where to resume reading a file: the decoded offset of the first line not yet read, and how
/// many lines came before it (see [`LineReader::skip_to`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Resume {
    pub offset: u64,
    pub line: u64,
}

/// One line: its bytes without line ending, where it starts and where the next begins, and
/// its 1-based number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawLine<'a> {
    pub offset: u64,
    /// Offset of the byte after the line ending: where the next line starts.
    pub end: u64,
    pub number: u64,
    pub bytes: &'a [u8],
}

/// Yields the lines of a decoded input.
pub struct LineReader {
    buf: Vec<u8>,
    reader: Option<Box<dyn Read + Send>>,
    /// The unread bytes are `buf[start..end]`.
    start: usize,
    end: usize,
    /// Decoded offset of `buf[0]`.
    base: u64,
    number: u64,
    /// Bytes decoded so far.
    decoded: u64,
    max_decoded: u64,
    /// An error met while reading ahead, returned once the lines before it are out.
    pending: Option<io::Error>,
    /// A followed file: its end is only where it stops for now (see [`LineReader::follow`]).
    follow: bool,
    /// The last line returned was cut at [`MAX_LINE_BYTES`]: the next piece has its number.
    cut: bool,
}

impl LineReader {
    /// Lines of bytes already in memory.
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        let len = bytes.len();
        Self::whole(bytes, len)
    }

    fn whole(buf: Vec<u8>, len: usize) -> Self {
        LineReader {
            buf,
            reader: None,
            start: 0,
            end: len,
            base: 0,
            number: 0,
            decoded: len as u64,
            max_decoded: u64::MAX,
            pending: None,
            follow: false,
            cut: false,
        }
    }

    /// Lines of a stream, failing once more than `max_decoded` bytes come out of it.
    pub fn from_reader(reader: Box<dyn Read + Send>, max_decoded: u64) -> Self {
        LineReader {
            buf: vec![0; 2 * CHUNK],
            reader: Some(reader),
            start: 0,
            end: 0,
            base: 0,
            number: 0,
            decoded: 0,
            max_decoded,
            pending: None,
            follow: false,
            cut: false,
        }
    }

    /// Lines of a plain file that is still being written, from `offset` (the start of line
    /// `line + 1`) on. At the file's current end [`LineReader::next_line`] returns `None` and
    /// keeps a last line without its newline for later: the writer may be in the middle of
    /// it. Calling it again after the file grew goes on from there. Reads go through `read`,
    /// not a map, so a file truncated under us is safe to read.
    pub fn follow(mut file: std::fs::File, offset: u64, line: u64) -> io::Result<Self> {
        use std::io::Seek;
        file.seek(io::SeekFrom::Start(offset))?;
        Ok(LineReader {
            buf: vec![0; FOLLOW_CHUNK],
            reader: Some(Box::new(file)),
            start: 0,
            end: 0,
            base: offset,
            number: line,
            decoded: offset,
            max_decoded: u64::MAX,
            pending: None,
            follow: true,
            cut: false,
        })
    }

    /// Stops following: the file will not grow any more (it was deleted or rotated away),
    /// so its end is final and a last line without newline is returned as a line.
    pub fn stop_following(&mut self) {
        self.follow = false;
    }

    /// The offset of the first byte not yet returned in a line.
    pub fn position(&self) -> u64 {
        self.base + self.start as u64
    }

    /// How many decoded bytes were read so far.
    pub fn decoded_offset(&self) -> u64 {
        self.decoded
    }

    /// The cap on decoded bytes.
    pub fn max_decoded(&self) -> u64 {
        self.max_decoded
    }

    /// The next line, `None` at the end; an error after the last good line if the input is
    /// damaged.
    pub fn next_line(&mut self) -> io::Result<Option<RawLine<'_>>> {
        let mut cut = false;
        let (from, to, next) = loop {
            let window = &self.buf[self.start..self.end];
            let searched = &window[..window.len().min(MAX_LINE_BYTES + 1)];
            if let Some(i) = memchr(b'\n', searched) {
                break (self.start, self.start + i, self.start + i + 1);
            }
            if window.len() > MAX_LINE_BYTES {
                cut = true;
                let at = self.start + MAX_LINE_BYTES;
                break (self.start, at, at);
            }
            if self.reader.is_none() {
                if let Some(err) = self.pending.take() {
                    return Err(err);
                }
                if window.is_empty() {
                    return Ok(None);
                }
                break (self.start, self.end, self.end);
            }
            if !self.fill() && self.follow && self.reader.is_some() {
                return Ok(None);
            }
        };
        self.start = next;
        // The pieces of a line cut at the cap are one line of the file: they share its
        // number, so the lines after it keep theirs.
        if !self.cut {
            self.number += 1;
        }
        self.cut = cut;
        let mut bytes = &self.buf[from..to];
        if let [head @ .., b'\r'] = bytes {
            bytes = head;
        }
        Ok(Some(RawLine {
            offset: self.base + from as u64,
            end: self.base + next as u64,
            number: self.number,
            bytes,
        }))
    }

    /// Moves on to `offset`, the start of a line, which becomes line number `line + 1`: a
    /// resumed read. In a map this is a jump; a stream is read and dropped up to it. Returns
    /// false if the input ends before `offset`.
    pub fn skip_to(&mut self, offset: u64, line: u64) -> io::Result<bool> {
        if self.reader.is_none() {
            let Some(start) = offset.checked_sub(self.base).map(|o| o as usize) else {
                return Ok(false);
            };
            if start > self.end {
                return Ok(false);
            }
            self.start = start;
            self.number = line;
            return Ok(true);
        }
        while self.base + (self.end as u64) < offset {
            self.start = self.end;
            if self.reader.is_none() {
                return Ok(false);
            }
            if !self.fill() && self.follow {
                return Ok(false);
            }
            if let Some(err) = self.pending.take() {
                return Err(err);
            }
        }
        self.start = (offset - self.base) as usize;
        self.number = line;
        Ok(true)
    }

    /// Reads more of the stream behind the unread bytes; returns whether any came. At its end
    /// (unless following) or on an error, drops the reader (keeping the error for later).
    fn fill(&mut self) -> bool {
        let buf = &mut self.buf;
        if self.start > 0 {
            buf.copy_within(self.start..self.end, 0);
            self.base += self.start as u64;
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
        let reader = self
            .reader
            .as_mut()
            .expect("fill is only called with a reader");
        let read = loop {
            match reader.read(&mut buf[self.end..]) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other,
            }
        };
        match read {
            Ok(0) => {
                if !self.follow {
                    self.reader = None;
                }
                false
            }
            Ok(n) => {
                self.end += n;
                self.decoded += n as u64;
                if self.decoded > self.max_decoded {
                    self.reader = None;
                    self.pending = Some(io::Error::new(
                        io::ErrorKind::FileTooLarge,
                        "decoded size exceeds the cap",
                    ));
                }
                true
            }
            Err(e) => {
                self.reader = None;
                self.pending = Some(e);
                false
            }
        }
    }
}
