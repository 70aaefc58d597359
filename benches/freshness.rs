//! Freshness: how long after a line is written it can be found by a search, with the
//! tailer's default settings (the way `stackfold run` wires it: tailer thread, reader
//! reloaded on each commit).
//!
//! Two cases: a busy file (a service logging 100 lines/s, so each event is closed by the
//! next line) and a quiet file (the probe is the last line, closed by the idle timeout).
//! Each probe is a line with a unique word; the clock runs from just before its `write` to
//! the first search that finds it (polled every 5 ms).
//!
//! `cargo bench --bench freshness [-- PROBES]`

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use stackfold::config::ConfigFile;
use stackfold::index::{EventWriter, Ingest};
use stackfold::query::{Filters, Reader};
use stackfold::tail::{TailSettings, Tailer};

fn main() {
    let probes: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(40);
    println!(
        "freshness with default settings: {:?}",
        TailSettings::default()
    );
    for busy in [true, false] {
        let mut delays = measure(busy, probes);
        delays.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let pick = |q: f64| delays[((delays.len() - 1) as f64 * q).round() as usize];
        println!(
            "{:<5} file, {probes} probes: median {:.0} ms, p90 {:.0} ms, max {:.0} ms",
            if busy { "busy" } else { "quiet" },
            ms(pick(0.5)),
            ms(pick(0.9)),
            ms(pick(1.0)),
        );
    }
}

fn line(word: &str) -> String {
    let now = jiff::Zoned::now().strftime("%Y-%m-%d %H:%M:%S,%3f");
    format!("{now} INFO  [main] com.acme.App - {word}\n")
}

fn measure(busy: bool, probes: usize) -> Vec<Duration> {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    let log = logs.join("app.log");
    std::fs::write(&log, line("started")).unwrap();
    let (index, fields) = stackfold::index::open_or_create(&dir.path().join("data")).unwrap();
    let writer = EventWriter::open(&index, fields.clone(), 64 << 20, 2).unwrap();
    let reader = Arc::new(Reader::new(index, fields).unwrap());
    let settings = ConfigFile::default()
        .settings(Some("UTC"), 1, 2026)
        .unwrap();
    let inputs = vec![logs.to_string_lossy().into_owned()];
    let mut tailer = Tailer::new(
        inputs,
        Arc::new(settings),
        TailSettings::default(),
        Ingest::new(writer),
    );
    let on_commit = Arc::clone(&reader);
    tailer.on_commit(move |_| on_commit.reload().unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    let tail_stop = Arc::clone(&stop);
    let tail = std::thread::spawn(move || tailer.run(&tail_stop).unwrap());
    let filler = busy.then(|| {
        let stop = Arc::clone(&stop);
        let log = log.clone();
        std::thread::spawn(move || {
            let mut file = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
            while !stop.load(Ordering::Relaxed) {
                file.write_all(line("filler").as_bytes()).unwrap();
                std::thread::sleep(Duration::from_millis(10));
            }
        })
    });
    std::thread::sleep(Duration::from_secs(2)); // the first scan
    let mut rng = fastrand::Rng::with_seed(1);
    let mut file = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    let mut delays = Vec::with_capacity(probes);
    for i in 0..probes {
        let word = format!("probe{i}x{}", rng.u32(..));
        let text = line(&word);
        let written = Instant::now();
        file.write_all(text.as_bytes()).unwrap();
        while reader.count(&word, &Filters::default()).unwrap() == 0 {
            assert!(
                written.elapsed() < Duration::from_secs(30),
                "{word} never came"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        delays.push(written.elapsed());
        std::thread::sleep(Duration::from_millis(100 + rng.u64(..300)));
    }
    stop.store(true, Ordering::Relaxed);
    tail.join().unwrap();
    if let Some(filler) = filler {
        filler.join().unwrap();
    }
    delays
}
