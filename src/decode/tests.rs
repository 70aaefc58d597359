use std::io::{Read, Write};

use proptest::prelude::*;

use super::*;

/// Offset, number and bytes of a line.
type Owned = (u64, u64, Vec<u8>);

fn collect(lines: &mut LineReader) -> (Vec<Owned>, Option<io::Error>) {
    let mut out = Vec::new();
    loop {
        match lines.next_line() {
            Ok(Some(l)) => out.push((l.offset, l.number, l.bytes.to_vec())),
            Ok(None) => return (out, None),
            Err(e) => return (out, Some(e)),
        }
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

fn zstd_frame(data: &[u8]) -> Vec<u8> {
    zstd::encode_all(data, 3).unwrap()
}

fn write_temp(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

const TEXT: &[u8] = b"first line\r\nsecond line\n\nfourth, no newline";

#[test]
fn lines_with_offsets_numbers_and_endings() {
    let (lines, err) = collect(&mut LineReader::from_bytes(TEXT.to_vec()));
    assert!(err.is_none());
    let want: Vec<Owned> = vec![
        (0, 1, b"first line".to_vec()),
        (12, 2, b"second line".to_vec()),
        (24, 3, b"".to_vec()),
        (25, 4, b"fourth, no newline".to_vec()),
    ];
    assert_eq!(lines, want);
}

#[test]
fn formats_are_sniffed_not_guessed_from_names() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("plain.gz", TEXT.to_vec(), Format::Plain),
        ("packed.log", gzip(TEXT), Format::Gzip),
        ("packed.txt", zstd_frame(TEXT), Format::Zstd),
    ];
    for (name, bytes, format) in cases {
        let path = write_temp(&dir, name, &bytes);
        let mut decoded = open(&path, u64::MAX).unwrap();
        assert_eq!(decoded.format, format, "{name}");
        let (lines, err) = collect(&mut decoded.lines);
        assert!(err.is_none(), "{name}: {err:?}");
        assert_eq!(lines.len(), 4, "{name}");
    }
}

#[test]
fn multi_member_gzip_and_multi_frame_zstd() {
    let dir = tempfile::tempdir().unwrap();
    let gz = [gzip(b"a\nb\n"), gzip(b"c\n")].concat();
    let zst = [zstd_frame(b"a\nb\n"), zstd_frame(b"c\n")].concat();
    for (name, bytes) in [("x.gz", gz), ("x.zst", zst)] {
        let path = write_temp(&dir, name, &bytes);
        let (lines, err) = collect(&mut open(&path, u64::MAX).unwrap().lines);
        assert!(err.is_none());
        let texts: Vec<&[u8]> = lines.iter().map(|l| l.2.as_slice()).collect();
        assert_eq!(texts, [b"a", b"b", b"c"], "{name}");
    }
}

/// Bytes that compress poorly, so that damage lands well inside the stream.
fn noisy_lines(n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut x: u64 = 0x2545F4914F6CDD1D;
    for i in 0..n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        writeln!(out, "2024-03-01 10:00:00,000 INFO line {i} {x:016x}").unwrap();
    }
    out
}

#[test]
fn a_damaged_gzip_member_is_not_read_and_the_error_names_where_it_starts() {
    let dir = tempfile::tempdir().unwrap();
    let plain = noisy_lines(20_000);
    let mut gz = gzip(&plain);
    let middle = gz.len() / 2;
    gz[middle..middle + 64].fill(0xff);
    let path = write_temp(&dir, "bad.log.gz", &gz);
    let mut decoded = open(&path, u64::MAX).unwrap();
    let (lines, err) = collect(&mut decoded.lines);
    let err = decoded.error(err.expect("the damage is reported"));
    // Deflate decodes garbage after the damage before it trips over it: none of it is read.
    assert_eq!(lines.len(), 0);
    let message = err.to_string();
    assert!(
        message.starts_with(&path.display().to_string()),
        "{message}"
    );
    assert!(
        message.contains("gzip: the member starting at compressed byte 0 is damaged")
            && message.ends_with("at decoded byte 0"),
        "{message}"
    );
}

#[test]
fn damage_in_one_gzip_member_keeps_the_members_before_it_whole() {
    let dir = tempfile::tempdir().unwrap();
    let first = noisy_lines(5_000);
    let second = noisy_lines(20_000);
    let mut gz = gzip(&first);
    let start = gz.len();
    gz.extend(gzip(&second));
    gz.extend(gzip(&first));
    // One changed byte in the middle of the second member.
    let damaged = start + (gz.len() - start) / 4;
    gz[damaged] ^= 0x10;
    let path = write_temp(&dir, "three.log.gz", &gz);
    // Kept from the check, and (past what may be kept) decoded a second time.
    for keep in [super::gzip::KEEP_CAP, 1000] {
        let file = std::fs::File::open(&path).unwrap();
        let mut lines =
            LineReader::from_reader(super::gzip::open_keeping(file, keep).unwrap(), u64::MAX);
        let (lines, err) = collect(&mut lines);
        let message = err.expect("the damage is reported").to_string();
        let read: Vec<u8> = lines
            .iter()
            .flat_map(|(_, _, line)| line.iter().copied().chain([b'\n']))
            .collect();
        assert_eq!(read, first, "keeping {keep}");
        assert!(
            message.contains(&format!(
                "member starting at compressed byte {start} is damaged"
            )),
            "{message}"
        );
    }
    let mut decoded = open(&path, u64::MAX).unwrap();
    let (_, err) = collect(&mut decoded.lines);
    let message = decoded.error(err.unwrap()).to_string();
    assert!(
        message.ends_with(&format!("at decoded byte {}", first.len())),
        "{message}"
    );
}

#[test]
fn truncated_zstd_is_an_error_not_a_silent_end() {
    let dir = tempfile::tempdir().unwrap();
    let zst = zstd_frame(&noisy_lines(20_000));
    let path = write_temp(&dir, "cut.log.zst", &zst[..zst.len() / 2]);
    let mut decoded = open(&path, u64::MAX).unwrap();
    let (lines, err) = collect(&mut decoded.lines);
    let err = decoded.error(err.expect("truncation is reported"));
    assert!(!lines.is_empty());
    assert!(err.to_string().contains("zstd"), "{err}");
}

#[test]
fn decoded_size_is_capped() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_temp(&dir, "bomb.gz", &gzip(&vec![b'a'; 4 << 20]));
    let mut decoded = open(&path, 1 << 20).unwrap();
    let (_, err) = collect(&mut decoded.lines);
    let err = decoded.error(err.expect("the cap is enforced"));
    assert!(matches!(err, Error::TooLarge { .. }), "{err}");
}

#[test]
fn overlong_lines_come_in_pieces() {
    let mut bytes = vec![b'x'; lines::MAX_LINE_BYTES + 10];
    bytes.extend_from_slice(b"\nnext\n");
    let (lines, _) = collect(&mut LineReader::from_bytes(bytes));
    let sizes: Vec<usize> = lines.iter().map(|l| l.2.len()).collect();
    assert_eq!(sizes, [lines::MAX_LINE_BYTES, 10, 4]);
    // Hardening finding 7: the pieces are one line of the file, so `next` is still line 2.
    let numbers: Vec<u64> = lines.iter().map(|l| l.1).collect();
    assert_eq!(numbers, [1, 1, 2]);
}

#[test]
fn empty_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_temp(&dir, "empty.log", b"");
    let (lines, err) = collect(&mut open(&path, u64::MAX).unwrap().lines);
    assert!(lines.is_empty() && err.is_none());
}

/// A reader that hands out its bytes in the given chunk sizes.
struct Chunked {
    data: Vec<u8>,
    pos: usize,
    sizes: Vec<usize>,
    turn: usize,
}

impl Read for Chunked {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let size = self.sizes[self.turn % self.sizes.len()].max(1);
        self.turn += 1;
        let n = size.min(buf.len()).min(self.data.len() - self.pos);
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[test]
fn resuming_at_an_offset_in_a_map_and_a_stream() {
    let text = b"one\ntwo\nthree\nfour\n".to_vec();
    let mut mapped = LineReader::from_bytes(text.clone());
    assert!(mapped.skip_to(8, 2).unwrap());
    let line = mapped.next_line().unwrap().unwrap();
    assert_eq!(
        (line.bytes, line.number, line.offset, line.end),
        (&b"three"[..], 3, 8, 14)
    );
    let reader = Chunked {
        data: text,
        pos: 0,
        sizes: vec![3],
        turn: 0,
    };
    let mut streamed = LineReader::from_reader(Box::new(reader), u64::MAX);
    assert!(streamed.skip_to(8, 2).unwrap());
    let line = streamed.next_line().unwrap().unwrap();
    assert_eq!(
        (line.bytes, line.number, line.offset),
        (&b"three"[..], 3, 8)
    );
    let mut short = LineReader::from_bytes(b"one\n".to_vec());
    assert!(!short.skip_to(100, 9).unwrap());
}

#[test]
fn a_followed_file_keeps_its_partial_last_line_until_it_is_complete() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_temp(&dir, "live.log", b"one\ntwo\nthr");
    let mut lines = LineReader::follow(std::fs::File::open(&path).unwrap(), 4, 1).unwrap();
    let (got, err) = collect(&mut lines);
    assert!(err.is_none());
    assert_eq!(got, vec![(4, 2, b"two".to_vec())]);
    assert_eq!(lines.position(), 8, "the partial line is not consumed");
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    file.write_all(b"ee\r\nfo").unwrap();
    assert_eq!(collect(&mut lines).0, vec![(8, 3, b"three".to_vec())]);
    file.write_all(b"ur").unwrap();
    assert!(collect(&mut lines).0.is_empty(), "still no newline");
    lines.stop_following();
    assert_eq!(collect(&mut lines).0, vec![(15, 4, b"four".to_vec())]);
}

proptest! {
    #[test]
    fn chunk_boundaries_do_not_change_lines(
        text in "([a-z \\t]{0,30}(\r\n|\n)){0,40}[a-z]{0,5}",
        sizes in prop::collection::vec(1usize..50, 1..10),
    ) {
        let bytes = text.into_bytes();
        let whole = collect(&mut LineReader::from_bytes(bytes.clone())).0;
        let reader = Chunked { data: bytes, pos: 0, sizes, turn: 0 };
        let streamed = collect(&mut LineReader::from_reader(Box::new(reader), u64::MAX)).0;
        prop_assert_eq!(whole, streamed);
    }
}
