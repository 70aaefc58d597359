//! stackfold-livegen: a service writing logs live, for the tail crash test and the
//! freshness benchmark.
//!
//! Appends log4j events, each with a unique `id=f<file>-<n>`, to `<dir>/live<file>.log` at a
//! steady rate; a share carry a Java trace from one of a few problems (root type
//! `com.acme.Problem<k>Exception`, line numbers changing from event to event, so each problem
//! is one group). Every `--rotate-every` events a file is rotated: by rename + create, or
//! for odd-numbered files by copytruncate; every other renamed file is gzipped later, as
//! logrotate's `compress` + `delaycompress` does (written under a hidden name, then renamed
//! into place, then the plain copy removed). Each event is one `write`. At the end it prints
//! a JSON summary: events per file and events per root type.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::Parser;

#[derive(Debug, Parser)]
#[command(name = "stackfold-livegen", about = "Write logs live, with rotation")]
struct Args {
    /// Directory to write into (created).
    #[arg(long)]
    dir: PathBuf,
    /// Files written at once.
    #[arg(long, default_value_t = 3)]
    files: usize,
    /// Events per file.
    #[arg(long, default_value_t = 600)]
    events: usize,
    /// Events per second per file.
    #[arg(long, default_value_t = 50.0)]
    rate: f64,
    /// Rotate a file after this many events (0: never).
    #[arg(long, default_value_t = 100)]
    rotate_every: usize,
    /// Share of events that carry a trace.
    #[arg(long, default_value_t = 0.2)]
    trace_ratio: f64,
    /// Distinct problems.
    #[arg(long, default_value_t = 3)]
    problems: usize,
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

struct Live {
    path: PathBuf,
    file: File,
    rotations: usize,
    /// A renamed file waiting to be compressed at the next rotation.
    to_compress: Option<PathBuf>,
    copytruncate: bool,
}

fn main() -> std::io::Result<()> {
    let args = Args::parse();
    std::fs::create_dir_all(&args.dir)?;
    let mut rng = fastrand::Rng::with_seed(args.seed);
    let mut lives = Vec::new();
    for i in 0..args.files {
        let path = args.dir.join(format!("live{i}.log"));
        lives.push(Live {
            file: open_append(&path)?,
            path,
            rotations: 0,
            to_compress: None,
            copytruncate: i % 2 == 1,
        });
    }
    let mut by_type: BTreeMap<String, u64> = BTreeMap::new();
    let started = Instant::now();
    let interval = Duration::from_secs_f64(1.0 / args.rate);
    for n in 0..args.events {
        for (i, live) in lives.iter_mut().enumerate() {
            let second = (n / 10) % 60;
            let millis = (n % 10) * 100;
            let head = format!(
                "2024-03-01 10:{:02}:{second:02},{millis:03}",
                (n / 600) % 60
            );
            let text = if rng.f64() < args.trace_ratio {
                let k = rng.usize(..args.problems);
                let ty = format!("com.acme.Problem{k}Exception");
                *by_type.entry(ty.clone()).or_default() += 1;
                format!(
                    "{head} ERROR [worker-{i}] com.acme.Service{k} - failed id=f{i}-{n}\n\
                     {ty}: cannot handle order {n}\n\
                     \tat com.acme.Service{k}.handle(Service{k}.java:{})\n\
                     \tat com.acme.Dispatcher.dispatch(Dispatcher.java:{})\n\
                     \tat java.base/java.lang.Thread.run(Thread.java:833)\n",
                    40 + rng.u32(..20),
                    100 + rng.u32(..20)
                )
            } else {
                format!("{head} INFO  [worker-{i}] com.acme.App - handled id=f{i}-{n}\n")
            };
            live.file.write_all(text.as_bytes())?;
            if args.rotate_every > 0 && (n + 1) % args.rotate_every == 0 && n + 1 < args.events {
                rotate(live)?;
            }
        }
        let due = started + interval * (n as u32 + 1);
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
    }
    for live in &mut lives {
        if let Some(old) = live.to_compress.take() {
            compress(&old)?;
        }
    }
    let summary = serde_json::json!({
        "files": args.files,
        "events_per_file": args.events,
        "by_root_type": by_type,
    });
    println!("{summary}");
    Ok(())
}

fn open_append(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

fn rotate(live: &mut Live) -> std::io::Result<()> {
    live.rotations += 1;
    if let Some(old) = live.to_compress.take() {
        compress(&old)?;
    }
    let rotated = live.path.with_extension(format!("log.{}", live.rotations));
    if live.copytruncate {
        std::fs::copy(&live.path, &rotated)?;
        live.file.set_len(0)?;
    } else {
        std::fs::rename(&live.path, &rotated)?;
        live.file = open_append(&live.path)?;
    }
    if live.rotations.is_multiple_of(2) {
        live.to_compress = Some(rotated);
    }
    Ok(())
}

/// gzip `path` beside it and remove it, as logrotate's `compress` does, but atomically.
fn compress(path: &Path) -> std::io::Result<()> {
    let name = path.file_name().expect("a file").to_string_lossy();
    let tmp = path.with_file_name(format!(".{name}.gz.tmp"));
    let done = path.with_file_name(format!("{name}.gz"));
    let mut gz = flate2::write::GzEncoder::new(File::create(&tmp)?, flate2::Compression::fast());
    gz.write_all(&std::fs::read(path)?)?;
    gz.finish()?.sync_all()?;
    std::fs::rename(&tmp, &done)?;
    std::fs::remove_file(path)
}
