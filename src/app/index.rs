//! `stackfold index` and `stackfold prune`.

use std::collections::{HashMap, HashSet};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::pipeline_settings;
use super::summary::Summary;
use crate::cli::{CheckArgs, IndexArgs, PruneArgs, RegroupArgs};
use crate::decode::Resume;
use crate::error::Chain;
use crate::index::checkpoint::{Found, Plan};
use crate::index::{EventSink, EventWriter, Ingest, IngestCounters, Step, file_key};
use crate::pipeline::FileJob;
use crate::query::Reader;
use crate::query::time::parse_duration;
use crate::source::discover;

pub fn run(args: IndexArgs) -> anyhow::Result<ExitCode> {
    let settings = pipeline_settings(&args.pipeline)?;
    let (index, fields) = crate::index::open_or_create(&args.data)?;
    let threads = match args.pipeline.threads {
        0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
        n => n,
    };
    let writer = EventWriter::open(&index, fields, args.heap_mb << 20, threads)
        .and_then(|writer| writer.with_stores(&args.data))
        .map_err(|e| super::explain_write_failure(e, &args.data))?;
    let mut ingest = Ingest::new(writer);
    let found = discover(&args.paths);
    for err in &found.errors {
        eprintln!("stackfold: error: {}", Chain(err));
    }
    let mut summary = Summary {
        unreadable_args: found.errors.len() as u64,
        ..Summary::default()
    };
    let (jobs, keys) = plan_jobs(found.files, ingest.writer_mut(), &mut summary);
    let started = Instant::now();
    let bar = progress_bar(jobs.len() as u64);
    let commit_bytes = args.commit_mb << 20;
    ingest
        .read_files(
            jobs,
            &keys,
            Arc::new(settings),
            commit_bytes,
            |step| match step {
                Step::Batch(counters) => bar.set_message(progress(counters, started)),
                Step::File(report) => {
                    summary.add(*report);
                    bar.inc(1);
                }
            },
        )
        .context("indexing")
        .map_err(|e| super::explain_write_failure(e, &args.data))?;
    bar.finish_and_clear();
    ingest
        .commit()
        .context("committing")
        .map_err(|e| super::explain_write_failure(e, &args.data))?;
    // The merges the commits started finish before the command does, as tantivy-cli's do:
    // left running, they were abandoned at exit, and their half-written segments (55 MB of
    // 721 on 1.5 GB of logs) counted in the index size until the next writer removed them.
    ingest.wait_merging_threads().context("merging segments")?;
    let config = match &args.pipeline.config {
        Some(path) => crate::config::ConfigFile::load(path)?,
        None => crate::config::ConfigFile::default(),
    };
    let alerts = config.alert_settings()?;
    if !alerts.rules.is_empty() {
        crate::triage::alerts::run_once(&args.data, &alerts).context("alerts")?;
    }
    summary.seconds = started.elapsed().as_secs_f64();
    summary.index_bytes = Some(dir_size(&crate::index::index_dir(&args.data)));
    summary.data_bytes = Some(dir_size(&args.data));
    if args.json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        eprintln!("{}", summary.line());
    }
    let read_anything = summary.read_files + summary.skipped_files > 0;
    Ok(if read_anything {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Decides per file whether to skip, resume or read it fresh, from the checkpoints, and
/// starts the checkpoints of those to read. A file named twice (`logs logs/app.log`) is read
/// once. Returns the jobs and the checkpoint key of each path.
pub(super) fn plan_jobs(
    files: Vec<PathBuf>,
    writer: &mut EventWriter,
    summary: &mut Summary,
) -> (Vec<FileJob>, HashMap<PathBuf, String>) {
    let mut jobs = Vec::with_capacity(files.len());
    let mut keys = HashMap::new();
    let mut seen = HashSet::new();
    let mut found = Vec::with_capacity(files.len());
    for path in files {
        if path.as_os_str() == "-" {
            keys.insert(path.clone(), file_key(&path));
            jobs.push(FileJob::from(path));
            continue;
        }
        match Found::identify(&path) {
            Ok(f) => {
                if seen.insert(f.path.clone()) {
                    found.push(f);
                }
            }
            Err(err) => {
                summary.failed_files += 1;
                summary.files += 1;
                eprintln!("stackfold: error: {}: {err}", path.display());
            }
        }
    }
    for planned in writer.checkpoints().plan(found, &HashSet::new()) {
        let resume = match planned.plan {
            Plan::Skip => {
                summary.skipped_files += 1;
                continue;
            }
            Plan::Resume(resume) => resume,
            Plan::Fresh => Resume::default(),
        };
        writer.begin_file(&planned.key, planned.checkpoint);
        keys.insert(planned.found.path.clone(), planned.key);
        jobs.push(FileJob {
            path: planned.found.path,
            resume,
        });
    }
    (jobs, keys)
}

/// The progress bar's message: throughput and totals so far.
fn progress(counters: &IngestCounters, started: Instant) -> String {
    let seconds = started.elapsed().as_secs_f64().max(1e-3);
    let mb_s = counters.bytes as f64 / 1e6 / seconds;
    format!(
        "{mb_s:.0} MB/s, {} events, {} exceptions",
        counters.events, counters.exceptions
    )
}

fn progress_bar(files: u64) -> ProgressBar {
    let target = if std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let bar = ProgressBar::with_draw_target(Some(files), target);
    let style = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} files, {msg} (ETA {eta})",
    )
    .expect("the progress template is valid");
    bar.set_style(style);
    bar
}

/// Bytes of the files under `dir`.
fn dir_size(dir: &Path) -> u64 {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter_map(|e| e.metadata().ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum()
}

/// `stackfold check`: every index file's checksum, and the checkpoints.
pub fn check(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let (index, fields) = crate::index::open(&args.data)?;
    let dir = crate::index::index_dir(&args.data);
    let blocks = crate::index::blocks::BlockSearch::open(&args.data)?;
    let mut damaged: Vec<PathBuf> = crate::index::damaged_files(&index)?
        .into_iter()
        .map(|file| dir.join(file))
        .collect();
    if let Some(blocks) = &blocks {
        let blocks_dir = crate::index::blocks::blocks_dir(&args.data);
        let files = crate::index::damaged_files(blocks.index())?;
        damaged.extend(files.into_iter().map(|file| blocks_dir.join(file)));
    }
    let texts_dir = crate::index::texts::texts_dir(&args.data);
    // Opened for reading (created empty when it is gone), so events that name chunks of text
    // are found without them.
    let texts = crate::index::texts::TextStore::open_for_reading(&args.data)?;
    let files = crate::index::damaged_files(texts.index())?;
    damaged.extend(files.into_iter().map(|file| texts_dir.join(file)));
    for file in &damaged {
        eprintln!(
            "stackfold: {}: checksum mismatch: the file is damaged",
            file.display()
        );
    }
    let payload = index.load_metas()?.payload;
    let checkpoints = crate::index::checkpoint::Checkpoints::from_payload(payload.as_deref());
    if let Err(err) = &checkpoints {
        eprintln!(
            "stackfold: {}: the checkpoints: {}",
            dir.display(),
            Chain(err)
        );
    }
    let without_text = if damaged.is_empty() {
        texts.events_without_text(&index.reader()?.searcher())?
    } else {
        0
    };
    if without_text > 0 {
        eprintln!(
            "stackfold: {}: {without_text} events name chunks of text that are not there",
            texts_dir.display()
        );
    }
    if !damaged.is_empty() || checkpoints.is_err() || without_text > 0 {
        eprintln!(
            "stackfold: the index under {} is damaged: restore it, or index the logs again into a new --data directory",
            args.data.display()
        );
        return Ok(ExitCode::FAILURE);
    }
    let reader = Reader::new(index.clone(), fields)?;
    let segments = index.searchable_segment_ids()?.len();
    let events = reader.count("", &Default::default())?;
    eprintln!(
        "stackfold: {} is sound: {segments} segments, {events} events, every checksum matches",
        dir.display()
    );
    if args.space {
        print!("{}", crate::index::space::measure(&index)?.table());
        if let Some(blocks) = &blocks {
            let space = crate::index::space::measure(blocks.index())?;
            println!("\nframe blocks, indexed once ({} in all):", space.total);
            print!("{}", space.table());
        }
        let space = crate::index::space::measure(texts.index())?;
        println!("\nevents' texts, in chunks ({} in all):", space.total);
        print!("{}", space.table());
    }
    Ok(ExitCode::SUCCESS)
}

pub fn regroup(args: RegroupArgs) -> anyhow::Result<ExitCode> {
    let settings = pipeline_settings(&args.pipeline)?;
    let (index, fields) = crate::index::open(&args.data)?;
    let mut writer = if args.dry_run {
        None
    } else {
        let writer = EventWriter::open(&index, fields.clone(), 64 << 20, 1)
            .and_then(|writer| writer.with_stores(&args.data));
        let writer = writer.with_context(|| {
            format!(
                "{}: cannot write the index: is a `tail`, `run` or `serve` taking logs writing it? stop it, regroup, start it again",
                args.data.display()
            )
        })?;
        Some(writer)
    };
    let texts = crate::index::texts::TextStore::open(&args.data)?
        .map(|texts| std::sync::Arc::new(texts.for_scanning()));
    let report = crate::index::regroup::regroup(&index, &fields, &settings, texts, writer.as_mut())
        .context("re-grouping")
        .map_err(|e| super::explain_write_failure(e, &args.data))?;
    if let Some(writer) = writer {
        writer.wait_merging_threads()?;
    }
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        let verb = if args.dry_run {
            "would change"
        } else {
            "changed"
        };
        eprintln!(
            "stackfold: {} events read; {verb} the exception of {} ({} new, {} no longer an exception); {} groups before, {} after (grouping version {}; {} events were grouped by an older version); {verb} the pattern of {}",
            report.events,
            report.changed,
            report.new_exceptions,
            report.lost_exceptions,
            report.groups_before,
            report.groups_after,
            report.grouping_version,
            report.older_version,
            report.patterns_changed,
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn prune(args: PruneArgs) -> anyhow::Result<ExitCode> {
    let age = parse_duration(&args.older_than)?;
    let cutoff = jiff::Timestamp::now().checked_sub(age)?;
    let (index, fields) = crate::index::open(&args.data)?;
    let reader = Reader::new(index.clone(), fields.clone())?;
    let before = reader.count("", &Default::default())?;
    // With the stores, so the chunks of text only the deleted events named go too.
    let mut writer = EventWriter::open(&index, fields, 64 << 20, 1)?.with_stores(&args.data)?;
    writer.delete_before(cutoff)?;
    writer.commit()?;
    writer.wait_merging_threads()?;
    reader.reload()?;
    let after = reader.count("", &Default::default())?;
    eprintln!(
        "stackfold: pruned {} events older than {cutoff} ({after} remain)",
        before - after
    );
    Ok(ExitCode::SUCCESS)
}
