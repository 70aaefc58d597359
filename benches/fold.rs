//! Throughput of the read stages on real log bytes: parse + fold on decoded text, the same
//! behind zstd, and `zstd -d` alone on the same bytes as the yardstick (issue: the stage
//! should be at least as fast per core as decompression); then the fold stage whole, as the
//! pipeline runs it: with the exception and fingerprint of each trace, and with the pattern
//! of each event without one (issue 18).
//!
//! The corpus is [`corpus::real_files`]. Run: `cargo bench --bench fold`.

mod corpus;

use std::hint::black_box;
use std::sync::Arc;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use stackfold::decode::LineReader;
use stackfold::decode::Resume;
use stackfold::event::{Event, FileInfo};
use stackfold::pipeline::PipelineSettings;
use stackfold::read::fold_lines;

fn corpus() -> (String, Vec<u8>) {
    let (name, files) = corpus::real_files();
    let mut bytes = Vec::new();
    for f in &files {
        bytes.extend(std::fs::read(f).unwrap());
        if !bytes.ends_with(b"\n") {
            bytes.push(b'\n');
        }
    }
    (name, bytes)
}

fn fold_all(lines: &mut LineReader, file: &Arc<FileInfo>, settings: &PipelineSettings) -> usize {
    fold_then(lines, file, settings, |_| {})
}

/// Folds `lines` and passes each event to `then` (the analysis under test).
fn fold_then(
    lines: &mut LineReader,
    file: &Arc<FileInfo>,
    settings: &PipelineSettings,
    then: impl Fn(&mut Event),
) -> usize {
    let mut events = 0;
    fold_lines(
        lines,
        settings.line_folder(file),
        Resume::default(),
        |mut e| {
            then(&mut e);
            events += 1;
            black_box(e);
            true
        },
    );
    events
}

fn bench(c: &mut Criterion) {
    let (name, bytes) = corpus();
    let zst = zstd::encode_all(&bytes[..], 3).unwrap();
    let settings = corpus::settings();
    let file = Arc::new(FileInfo {
        path: "bench.log".into(),
        meta: Default::default(),
        date_ts: None,
    });
    let mut group = c.benchmark_group(format!("read/{name}"));
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.sample_size(20);
    // Lines into events, nothing more. (Named `parse+fold+fingerprint` until 2026-12-06,
    // though it never looked for exceptions: that is `parse+fold+exceptions`.)
    group.bench_function("parse+fold", |b| {
        b.iter_batched(
            || bytes.clone(),
            |copy| fold_all(&mut LineReader::from_bytes(copy), &file, &settings),
            BatchSize::LargeInput,
        )
    });
    // The fold stage as the pipeline runs it: the exception and fingerprint of a trace, else
    // the pattern (issue 18). Without patterns, it is the stage as it was before issue 18: the
    // difference between the two is what patterns cost in the pipeline.
    type Analyse = fn(&PipelineSettings, &mut Event);
    let analyses: [(&str, Analyse); 2] = [
        ("parse+fold+analyse", |s, e| s.analyzer.analyse(e)),
        ("parse+fold+exceptions", |s, e| s.analyzer.find_exception(e)),
    ];
    for (name, analyse) in analyses {
        group.bench_function(name, |b| {
            b.iter_batched(
                || bytes.clone(),
                |copy| {
                    let lines = &mut LineReader::from_bytes(copy);
                    fold_then(lines, &file, &settings, |e| analyse(&settings, e))
                },
                BatchSize::LargeInput,
            )
        });
    }
    // The patterns alone, on exactly what the pipeline makes them of: the messages of the
    // events without a trace, after any prefix of a line without a known header.
    let mut messages = Vec::new();
    fold_lines(
        &mut LineReader::from_bytes(bytes.clone()),
        settings.line_folder(&file),
        Resume::default(),
        |mut e| {
            settings.analyzer.find_exception(&mut e);
            if e.exception.is_none() {
                messages.push((e.message, e.format));
            }
            true
        },
    );
    // With the memo of recent messages, then without it: what a log whose lines never repeat
    // costs.
    for (name, remembered) in [
        ("patterns alone (events without a trace)", true),
        ("patterns alone, nothing remembered", false),
    ] {
        let pattern = |part: &str| match remembered {
            true => settings.analyzer.patterns.pattern(part),
            false => stackfold::fold::pattern::pattern(part),
        };
        group.bench_function(name, |b| {
            b.iter(|| {
                let parts = messages
                    .iter()
                    .map(|(m, format)| stackfold::fold::pattern::groupable(m, format));
                parts.map(|part| pattern(part).id.len()).sum::<usize>()
            })
        });
    }
    group.bench_function("zstd -d (yardstick)", |b| {
        b.iter(|| zstd::decode_all(&zst[..]).unwrap().len())
    });
    group.bench_function("zstd -d + parse+fold", |b| {
        b.iter_batched(
            || std::io::Cursor::new(zst.clone()),
            |compressed| {
                #[allow(clippy::disallowed_types)] // a stand-in for decode::open without a file
                let decoder = zstd::stream::read::Decoder::new(compressed).unwrap();
                fold_all(
                    &mut LineReader::from_reader(Box::new(decoder), u64::MAX),
                    &file,
                    &settings,
                )
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
