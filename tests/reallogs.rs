//! Every file of `../shared/reallogs` (beside the repository, when present) folds without a
//! panic and without losing a line. The files are not redistributable, so a fresh clone
//! without them skips this test, saying so.

mod common;

use std::path::{Path, PathBuf};

fn all_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            all_files(&path, out);
        } else if path.file_name().is_some_and(|n| n != "SOURCES.md") {
            out.push(path);
        }
    }
}

/// The decoded text as the fold stage promises to give it back: `\r\n` as `\n`, invalid
/// UTF-8 replaced, no final newline.
#[allow(clippy::disallowed_types)] // reads the gzip files independently of the decode stage
fn normalised(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap();
    let bytes = if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::MultiGzDecoder::new(&bytes[..]), &mut out)
            .unwrap();
        out
    } else {
        bytes
    };
    let text = String::from_utf8_lossy(&bytes).replace("\r\n", "\n");
    text.strip_suffix('\n').unwrap_or(&text).to_owned()
}

#[test]
fn every_real_log_folds_losslessly() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/reallogs");
    if !root.is_dir() {
        eprintln!("skipped: {} is not there", root.display());
        return;
    }
    let mut files = Vec::new();
    all_files(&root, &mut files);
    assert!(files.len() > 50, "found only {} files", files.len());
    let settings = common::settings();
    for file in files {
        let events = common::fold_file(&file, &settings);
        let joined: Vec<&str> = events.iter().map(|e| e.text.as_str()).collect();
        assert!(
            joined.join("\n") == normalised(&file),
            "{} lost or changed lines",
            file.display()
        );
    }
}
