//! What tantivy's indexing costs for stackfold's documents, against the reference schema on
//! the same events (issue #3 compares `stackfold index` with tantivy-cli).
//!
//! Every variant indexes the same folded events, built into documents before the clock
//! starts, into an in-RAM index with the writer `stackfold index` uses (two threads, 128 MiB),
//! and commits. Throughput is MB/s of the raw log bytes the events came from:
//!
//! - `reference schema`: `shared/bench/tantivy-meta.json` (time, level, thread, logger as raw
//!   terms, body with the default tokenizer, positions and norms; lz4 docstore). tantivy-cli
//!   also parses JSON, which is not measured here.
//! - `stackfold`: [`EventDocument`]s with the full schema, as `stackfold index` adds them.
//! - `stackfold as TantivyDocument`: the same values copied into `TantivyDocument`s, as
//!   `stackfold index` built them before issue 17.
//! - `stackfold without file fields`: the same minus app/env/tag/host/logtype/date/source,
//!   what storing per-file metadata once per file would save.
//! - `stackfold time + body + text`: the time, the searchable body and the stored event: the
//!   least a schema that can show what it finds indexes.
//! - `stackfold time + body`: only the time and the searchable body, nothing stored.
//!
//! The cut-down variants below are `TantivyDocument`s too. Plus `EventDocument::new` alone
//! (the main thread's share of `stackfold index`, on events cloned before). Corpora: the
//! generated log set of `benches/ingest.sh` (24 MB) and [`corpus::real_files`].
//! Run: `cargo bench --bench index`.

mod corpus;

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use stackfold::event::Event;
use stackfold::index::document::EventDocument;
use stackfold::index::schema::{self, to_date};
use stackfold::pipeline::collect_file;
use tantivy::schema::{
    DateOptions, DateTimePrecision, Document, IndexRecordOption, Schema, TextFieldIndexing,
    TextOptions,
};
use tantivy::store::Compressor;
use tantivy::{Index, IndexSettings, TantivyDocument};

/// The allocator of the `stackfold` binary (see src/main.rs).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The writer of `stackfold index` on this machine's two cores.
const THREADS: usize = 2;
const HEAP_BYTES: usize = 128 << 20;

/// Folded events of `files` and their raw size.
fn fold(files: &[PathBuf]) -> (Vec<Event>, u64) {
    let settings = corpus::settings();
    let mut events = Vec::new();
    let mut bytes = 0;
    for path in files {
        bytes += std::fs::metadata(path).unwrap().len();
        let (found, report) = collect_file(path.clone(), &settings);
        assert!(
            report.error.is_none(),
            "{}: {:?}",
            path.display(),
            report.error
        );
        events.extend(found);
    }
    (events, bytes)
}

/// The schema of `shared/bench/tantivy-meta.json` and its documents for `events`.
fn reference(events: &[Event]) -> (Index, Vec<TantivyDocument>) {
    let mut b = Schema::builder();
    let raw = TextOptions::default()
        .set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer("raw")
                .set_index_option(IndexRecordOption::Basic)
                .set_fieldnorms(false),
        )
        .set_stored();
    let timestamp = b.add_date_field(
        "timestamp",
        DateOptions::default()
            .set_indexed()
            .set_fast()
            .set_stored()
            .set_precision(DateTimePrecision::Milliseconds),
    );
    let level = b.add_text_field("level", raw.clone());
    let thread = b.add_text_field("thread", raw.clone());
    let logger = b.add_text_field("logger", raw);
    let body = b.add_text_field(
        "body",
        TextOptions::default()
            .set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer("default")
                    .set_index_option(IndexRecordOption::WithFreqsAndPositions),
            )
            .set_stored(),
    );
    let settings = IndexSettings {
        docstore_compression: Compressor::Lz4,
        docstore_blocksize: 16 * 1024,
        ..Default::default()
    };
    let index = Index::builder()
        .schema(b.build())
        .settings(settings)
        .create_in_ram()
        .unwrap();
    let docs = events
        .iter()
        .map(|e| {
            let mut doc = TantivyDocument::new();
            if let Some(ts) = e.ts {
                doc.add_date(timestamp, to_date(ts));
            }
            for (field, value) in [
                (level, e.level.map(|l| l.as_str())),
                (thread, e.thread.as_deref()),
                (logger, e.logger.as_deref()),
            ] {
                if let Some(v) = value {
                    doc.add_text(field, v);
                }
            }
            doc.add_text(body, e.trace_text());
            doc
        })
        .collect();
    (index, docs)
}

/// A fresh in-RAM index with stackfold's schema and settings.
fn stackfold_index() -> Index {
    let index = Index::builder()
        .schema(schema::build().0)
        .settings(stackfold::index::settings())
        .create_in_ram()
        .unwrap();
    stackfold::index::register_tokenizers(&index);
    index
}

/// `doc` keeping only the fields `keep` accepts.
fn only(doc: &TantivyDocument, keep: impl Fn(tantivy::schema::Field) -> bool) -> TantivyDocument {
    let mut cut = TantivyDocument::new();
    for (field, value) in doc.field_values() {
        if keep(field) {
            cut.add_field_value(field, value);
        }
    }
    cut
}

/// Adds `docs` to `index` and commits.
fn index_all<D: Document>(index: &Index, docs: Vec<D>) -> u32 {
    let mut writer = index
        .writer_with_num_threads::<D>(THREADS, HEAP_BYTES)
        .unwrap();
    for doc in docs {
        writer.add_document(doc).unwrap();
    }
    writer.commit().unwrap();
    writer.wait_merging_threads().unwrap();
    let reader = index.reader().unwrap();
    reader.searcher().num_docs() as u32
}

/// stackfold's documents cut down, by the fields each variant keeps.
const VARIANTS: &[(&str, Keep)] = &[
    ("stackfold as TantivyDocument", Keep::AllBut(&[])),
    (
        "stackfold without file fields",
        Keep::AllBut(&["app", "env", "tag", "host", "logtype", "date", "source"]),
    ),
    (
        "stackfold time + body + text",
        Keep::Only(&["ts", "body", "text"]),
    ),
    ("stackfold time + body", Keep::Only(&["ts", "body"])),
];

enum Keep {
    AllBut(&'static [&'static str]),
    Only(&'static [&'static str]),
}

impl Keep {
    fn keeps(&self, name: &str) -> bool {
        match self {
            Keep::AllBut(names) => !names.contains(&name),
            Keep::Only(names) => names.contains(&name),
        }
    }
}

fn bench_corpus(c: &mut Criterion, name: &str, events: &[Event], bytes: u64) {
    let (schema, fields) = schema::build();
    let document =
        |e: &Event| EventDocument::new(&fields, e.clone(), &e.source.path.to_string_lossy(), 1);
    let full: Vec<TantivyDocument> = events
        .iter()
        .map(|e| document(e).into_tantivy_document())
        .collect();
    let (reference_index, reference_docs) = reference(events);
    let expected = events.len() as u32;

    let mut group = c.benchmark_group(format!("index/{name}"));
    group.throughput(Throughput::Bytes(bytes));
    group.sample_size(10);
    group.bench_function("reference schema", |b| {
        b.iter_batched(
            || {
                let index = Index::builder()
                    .schema(reference_index.schema())
                    .settings(reference_index.settings().clone())
                    .create_in_ram()
                    .unwrap();
                (index, reference_docs.clone())
            },
            |(index, docs)| assert_eq!(index_all(&index, docs), expected),
            BatchSize::PerIteration,
        )
    });
    group.bench_function("stackfold", |b| {
        b.iter_batched(
            || {
                (
                    stackfold_index(),
                    events.iter().map(document).collect::<Vec<_>>(),
                )
            },
            |(index, docs)| assert_eq!(index_all(&index, docs), expected),
            BatchSize::PerIteration,
        )
    });
    for (variant, keep) in VARIANTS {
        let docs: Vec<TantivyDocument> = full
            .iter()
            .map(|d| only(d, |f| keep.keeps(schema.get_field_name(f))))
            .collect();
        group.bench_function(*variant, |b| {
            b.iter_batched(
                || (stackfold_index(), docs.clone()),
                |(index, docs)| assert_eq!(index_all(&index, docs), expected),
                BatchSize::PerIteration,
            )
        });
    }
    group.bench_function("EventDocument::new", |b| {
        b.iter_batched(
            || events.to_vec(),
            |events| {
                for e in events {
                    black_box(EventDocument::new(&fields, e, "bench.log", 1));
                }
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let (events, bytes) = fold(&corpus::generated_files(dir.path(), 24));
    bench_corpus(c, "generated", &events, bytes);
    let (name, files) = corpus::real_files();
    let (events, bytes) = fold(&files);
    bench_corpus(c, &name, &events, bytes);
}

criterion_group!(benches, bench);
criterion_main!(benches);
