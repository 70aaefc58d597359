//! Query latency on an existing index: p50 and p99 of five query kinds and of the group
//! listing, one thread, the index warm. Run by `benches/ingest.sh` after it has indexed the
//! generated corpus: `cargo bench --bench search_latency -- DATA_DIR`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use stackfold::query::{Filters, Reader};

/// Runs per query after one warm-up run: enough for a stable p99 on a noisy machine.
const RUNS: usize = 200;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn measure(name: &str, mut run: impl FnMut() -> usize) {
    let hits = run();
    let mut times: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            std::hint::black_box(run());
            start.elapsed()
        })
        .collect();
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "| {name} | {hits} | {:.2} | {:.2} |",
        ms(percentile(&times, 0.5)),
        ms(percentile(&times, 0.99))
    );
}

fn main() {
    let Some(data) = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with("--"))
        .map(PathBuf::from)
    else {
        eprintln!(
            "usage: cargo bench --bench search_latency -- DATA_DIR (skipped: no data dir given)"
        );
        return;
    };
    let reader = Reader::open(&data).expect("an index under DATA_DIR");
    let all = Filters::default();
    let total = reader.count("", &all).unwrap();
    println!("{total} events in {}\n", data.display());
    println!("| query (100 newest hits, stored events read) | matches | p50 ms | p99 ms |");
    println!("|---|---|---|---|");
    let search = |q: &str, f: &Filters| reader.search(q, f, 100).unwrap().len();
    let count = |q: &str, f: &Filters| reader.count(q, f).unwrap();
    let errors_in_billing = Filters {
        app: vec!["billing".into()],
        level: vec!["error".into()],
        ..Filters::default()
    };
    let one_day = Filters {
        from: Some("2024-03-02T00:00:00Z".parse().unwrap()),
        to: Some("2024-03-03T00:00:00Z".parse().unwrap()),
        ..Filters::default()
    };
    let cases: [(&str, &str, &Filters); 5] = [
        ("term: `timeout`", "timeout", &all),
        ("phrase: `\"cache hit ratio\"`", "\"cache hit ratio\"", &all),
        ("code: `NullPointer`", "NullPointer", &all),
        ("filters: app=billing level=error", "*", &errors_in_billing),
        ("term in one day: `request` 2024-03-02", "request", &one_day),
    ];
    for (name, q, f) in cases {
        let matches = count(q, f);
        measure(&format!("{name} ({matches})"), || search(q, f));
    }
    measure("wildcard: `sess*`", || search("sess*", &all));
    println!("\n| group listing | groups | p50 ms | p99 ms |");
    println!("|---|---|---|---|");
    measure("all exception groups", || {
        reader.groups("", &all).unwrap().len()
    });
    measure("groups of app=billing", || {
        let f = Filters {
            app: vec!["billing".into()],
            ..Filters::default()
        };
        reader.groups("", &f).unwrap().len()
    });
}
