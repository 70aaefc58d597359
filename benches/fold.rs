//! Throughput of the read stages on real log bytes: parse + fold + fingerprint on decoded
//! text, the same behind zstd, and `zstd -d` alone on the same bytes as the yardstick
//! (issue: the stage should be at least as fast per core as decompression).
//!
//! The corpus is [`corpus::real_files`]. Run: `cargo bench --bench fold`.

mod corpus;

use std::hint::black_box;
use std::sync::Arc;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use stackfold::decode::LineReader;
use stackfold::decode::Resume;
use stackfold::event::FileInfo;
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
    let mut events = 0;
    fold_lines(lines, settings.line_folder(file), Resume::default(), |e| {
        events += 1;
        black_box(e);
        true
    });
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
    group.bench_function("parse+fold+fingerprint", |b| {
        b.iter_batched(
            || bytes.clone(),
            |copy| fold_all(&mut LineReader::from_bytes(copy), &file, &settings),
            BatchSize::LargeInput,
        )
    });
    // What the pipeline adds per event: the exception and fingerprint of a trace, else the
    // pattern (issue 18). `fold_all` above stops at folded events.
    group.bench_function("parse+fold+analyse", |b| {
        b.iter_batched(
            || bytes.clone(),
            |copy| {
                let mut events = 0;
                let lines = &mut LineReader::from_bytes(copy);
                fold_lines(
                    lines,
                    settings.line_folder(&file),
                    Resume::default(),
                    |mut e| {
                        settings.analyzer.analyse(&mut e);
                        events += 1;
                        black_box(e);
                        true
                    },
                );
                events
            },
            BatchSize::LargeInput,
        )
    });
    let mut messages = Vec::new();
    fold_lines(
        &mut LineReader::from_bytes(bytes.clone()),
        settings.line_folder(&file),
        Resume::default(),
        |e| {
            messages.push(e.message);
            true
        },
    );
    group.bench_function("patterns alone (every event's message)", |b| {
        b.iter(|| {
            messages
                .iter()
                .map(|m| stackfold::fold::pattern::pattern(m).id.len())
                .sum::<usize>()
        })
    });
    group.bench_function("zstd -d (yardstick)", |b| {
        b.iter(|| zstd::decode_all(&zst[..]).unwrap().len())
    });
    group.bench_function("zstd -d + parse+fold+fingerprint", |b| {
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
