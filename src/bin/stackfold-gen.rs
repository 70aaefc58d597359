//! stackfold-gen: writes a realistic log set in the operators' file-name convention, for
//! benchmarks and tests.
//!
//! apps × envs × hosts × days files, the image tag changing over the days; log4j-style
//! (Java apps), Python-logging and Go-log lines; a share of events carry a trace from a fixed
//! set of problems whose line numbers, lambda numbers and goroutine ids shift between tags,
//! so each problem must fold into exactly one group per app. `manifest.json` records how many
//! events and trace events were written, and the expected groups with their counts.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use clap::{Parser, ValueEnum};
use serde::Serialize;

#[derive(Debug, Parser)]
#[command(
    name = "stackfold-gen",
    about = "Write a realistic log set for benchmarks and tests"
)]
struct Args {
    /// Output directory (created).
    #[arg(long)]
    out: PathBuf,
    /// Approximate total size of the logs before compression, in MB.
    #[arg(long, default_value_t = 100)]
    size_mb: u64,
    #[arg(long, default_value_t = 5)]
    apps: usize,
    #[arg(long, default_value_t = 3)]
    hosts: usize,
    /// Image tags over the days (releases).
    #[arg(long, default_value_t = 3)]
    tags: usize,
    #[arg(long, default_value_t = 6)]
    days: usize,
    /// Distinct problems (future exception groups).
    #[arg(long, default_value_t = 36)]
    problems: usize,
    /// Also write every event as a tantivy-cli JSON document to this file (the reference
    /// baseline of `shared/bench`).
    #[arg(long, value_name = "FILE")]
    reference_jsonl: Option<PathBuf>,
    /// Share of events that carry a trace.
    #[arg(long, default_value_t = 0.05)]
    trace_ratio: f64,
    #[arg(long, value_enum, default_value = "mixed")]
    compress: Compress,
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Compress {
    Plain,
    Gzip,
    Zstd,
    /// Plain, gzip and zstd in turn.
    Mixed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum Lang {
    Java,
    Python,
    Go,
}

/// A problem: the same trace, give or take what changes between releases.
#[derive(Debug)]
struct Problem {
    id: usize,
    language: Lang,
    root_type: String,
    outer: Option<&'static str>,
    frames: Vec<(String, String, u32)>,
    message: &'static str,
}

/// One expected exception group: a problem as one app hits it (its in-app frames name the
/// app's packages, so each app's occurrence is a group of its own).
#[derive(Debug, Serialize)]
struct ExpectedGroup {
    problem: usize,
    app: String,
    language: Lang,
    root_type: String,
    count: u64,
}

#[derive(Debug, Default, Serialize)]
struct Manifest {
    files: usize,
    bytes: u64,
    events: u64,
    trace_events: u64,
    groups: Vec<ExpectedGroup>,
}

const ENVS: [&str; 2] = ["pro", "nor"];
const APP_NAMES: [&str; 8] = [
    "billing", "orders", "search", "auth", "catalog", "shipping", "payments", "users",
];
const JAVA_TYPES: [&str; 6] = [
    "java.lang.IllegalStateException",
    "java.lang.NullPointerException",
    "java.io.IOException",
    "java.net.SocketTimeoutException",
    "java.sql.SQLTransientConnectionException",
    "java.lang.IllegalArgumentException",
];
const PY_TYPES: [&str; 4] = [
    "KeyError",
    "ValueError",
    "requests.exceptions.ConnectionError",
    "TimeoutError",
];
const MESSAGES: [&str; 6] = [
    "order {n} failed for user {m}",
    "card {n} declined after {m} tries",
    "connection to 10.0.{m}.{n}:5432 refused",
    "timeout after {n}ms waiting for {m} rows",
    "missing key 'item_{n}' in cart {m}",
    "index out of range [{n}] with length {m}",
];
const INFO: [&str; 8] = [
    "request GET /api/orders/{n} completed in {m}ms",
    "cache hit ratio {m}% over {n} lookups",
    "user {n} logged in from 192.168.{m}.12",
    "scheduled job reconcile-{m} started",
    "published {n} events to topic orders-{m}",
    "slow query took {n}ms: SELECT * FROM orders WHERE id = {m}",
    "connection pool stats active={m} idle={n}",
    "session {n} expired after {m}s",
];
const JAVA_FRAMEWORK: [(&str, &str); 6] = [
    (
        "org.springframework.web.servlet.FrameworkServlet",
        "processRequest",
    ),
    (
        "org.springframework.web.servlet.DispatcherServlet",
        "doDispatch",
    ),
    (
        "org.apache.catalina.core.ApplicationFilterChain",
        "doFilter",
    ),
    (
        "org.apache.tomcat.util.net.NioEndpoint$SocketProcessor",
        "doRun",
    ),
    ("java.util.concurrent.ThreadPoolExecutor", "runWorker"),
    ("java.lang.Thread", "run"),
];

fn lang_of(app: usize) -> Lang {
    match app % 5 {
        3 => Lang::Python,
        4 => Lang::Go,
        _ => Lang::Java,
    }
}

fn problems(n: usize, rng: &mut fastrand::Rng) -> Vec<Problem> {
    (0..n)
        .map(|id| {
            let language = [Lang::Java, Lang::Java, Lang::Java, Lang::Python, Lang::Go][id % 5];
            let frames = (0..rng.usize(2..5))
                .map(|k| {
                    (
                        format!("Service{id}x{k}"),
                        format!("handle{}", rng.u32(0..1000)),
                        rng.u32(20..900),
                    )
                })
                .collect();
            let root_type = match language {
                Lang::Java => JAVA_TYPES[id % JAVA_TYPES.len()].to_owned(),
                Lang::Python => PY_TYPES[id % PY_TYPES.len()].to_owned(),
                Lang::Go => "runtime error".to_owned(),
            };
            let outer = (language == Lang::Java && id % 2 == 0)
                .then_some("org.springframework.web.util.NestedServletException");
            Problem {
                id,
                language,
                root_type,
                outer,
                frames,
                message: MESSAGES[id % MESSAGES.len()],
            }
        })
        .collect()
}

fn fill(template: &str, rng: &mut fastrand::Rng) -> String {
    template
        .replace("{n}", &rng.u32(1..100_000).to_string())
        .replace("{m}", &rng.u32(1..500).to_string())
}

/// Writes one trace for `p` at release `tag` (line numbers and lambdas shift per tag).
fn trace(out: &mut String, p: &Problem, app: &str, tag: usize, rng: &mut fastrand::Rng) {
    let shift = tag as u32 * 7;
    let message = fill(p.message, rng);
    match p.language {
        Lang::Java => {
            if let Some(outer) = p.outer {
                out.push_str(&format!("{outer}: Request processing failed\n"));
                for (class, method) in &JAVA_FRAMEWORK[..3] {
                    out.push_str(&format!(
                        "\tat {class}.{method}({}.java:{})\n",
                        class.rsplit('.').next().unwrap_or(class),
                        100 + shift
                    ));
                }
                out.push_str("Caused by: ");
            }
            out.push_str(&format!("{}: {message}\n", p.root_type));
            for (i, (class, method, line)) in p.frames.iter().enumerate() {
                let method = if i == 0 {
                    format!("lambda${method}${tag}")
                } else {
                    method.clone()
                };
                out.push_str(&format!(
                    "\tat com.acme.{app}.{class}.{method}({class}.java:{})\n",
                    line + shift
                ));
            }
            for (class, method) in &JAVA_FRAMEWORK[3..] {
                out.push_str(&format!(
                    "\tat {class}.{method}({}.java:{})\n",
                    class.rsplit('.').next().unwrap_or(class),
                    500 + shift
                ));
            }
            if p.outer.is_some() {
                out.push_str("\t... 3 common frames omitted\n");
            }
        }
        Lang::Python => {
            out.push_str("Traceback (most recent call last):\n");
            for (class, method, line) in p.frames.iter().rev() {
                let module = class.to_lowercase();
                out.push_str(&format!("  File \"/srv/{app}/releases/{tag}/{app}/{module}.py\", line {}, in {method}\n", line + shift));
                out.push_str(&format!("    result = self.{method}(request)\n"));
            }
            out.push_str(&format!(
                "  File \"/usr/lib/python3.11/site-packages/requests/api.py\", line {}, in get\n",
                73
            ));
            out.push_str("    return request(\"get\", url, params=params, **kwargs)\n");
            out.push_str(&format!("{}: {message}\n", p.root_type));
        }
        Lang::Go => {
            out.push_str(&format!(
                "panic: runtime error: {message}\n\ngoroutine {} [running]:\n",
                rng.u32(1..100_000)
            ));
            for (class, method, line) in &p.frames {
                out.push_str(&format!(
                    "github.com/acme/{app}/{}.(*{class}).{method}(0xc000{:06x}, 0x{:x})\n\t/build/src/github.com/acme/{app}/{}/{}.go:{} +0x{:x}\n",
                    class.to_lowercase(),
                    rng.u32(0..0xffffff),
                    rng.u32(0..64),
                    class.to_lowercase(),
                    class.to_lowercase(),
                    line + shift,
                    rng.u32(0..0x400)
                ));
            }
            out.push_str("net/http.HandlerFunc.ServeHTTP(0x12f3a40, 0x1450000, 0xc0001b6000)\n\t/usr/local/go/src/net/http/server.go:2109 +0x44\n");
            out.push_str("created by net/http.(*Server).Serve in goroutine 1\n\t/usr/local/go/src/net/http/server.go:3086 +0x5cb\n");
        }
    }
}

/// One log line's header at `ms` milliseconds into the day.
fn header(lang: Lang, date: &str, ms: u64, level: &str, app: &str, thread: u32) -> String {
    let (h, m, s, milli) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
    match lang {
        Lang::Java => format!(
            "{date} {h:02}:{m:02}:{s:02},{milli:03} {level:<5} [http-nio-8080-exec-{thread}] com.acme.{app}.Service - "
        ),
        Lang::Python => {
            format!("{date} {h:02}:{m:02}:{s:02},{milli:03} - {app}.worker - {level} - ")
        }
        Lang::Go => format!(
            "{} {h:02}:{m:02}:{s:02}.{milli:03}000 {level}: ",
            date.replace('-', "/")
        ),
    }
}

fn writer(path: &Path, compress: Compress) -> io::Result<Box<dyn Write>> {
    let file = BufWriter::with_capacity(1 << 20, File::create(path)?);
    Ok(match compress {
        Compress::Gzip => Box::new(flate2::write::GzEncoder::new(
            file,
            flate2::Compression::fast(),
        )),
        Compress::Zstd => Box::new(zstd::stream::write::Encoder::new(file, 3)?.auto_finish()),
        _ => Box::new(file),
    })
}

fn main() -> io::Result<()> {
    let args = Args::parse();
    std::fs::create_dir_all(&args.out)?;
    let mut rng = fastrand::Rng::with_seed(args.seed);
    let problems = problems(args.problems, &mut rng);
    let mut manifest = Manifest::default();
    let mut counts: std::collections::BTreeMap<(usize, &str), u64> = Default::default();
    let mut reference = match &args.reference_jsonl {
        Some(path) => Some(BufWriter::with_capacity(1 << 20, File::create(path)?)),
        None => None,
    };
    let files = args.apps * ENVS.len() * args.hosts * args.days;
    let per_file = (args.size_mb * 1_000_000 / files.max(1) as u64).max(1);
    let mut index = 0;
    for app_i in 0..args.apps {
        let app = APP_NAMES[app_i % APP_NAMES.len()];
        let lang = lang_of(app_i);
        let own: Vec<&Problem> = problems.iter().filter(|p| p.language == lang).collect();
        for env in ENVS {
            for host_i in 0..args.hosts {
                for day in 0..args.days {
                    let tag = day * args.tags / args.days.max(1);
                    let date = jiff::civil::date(2024, 3, 1)
                        .checked_add(jiff::Span::new().days(day as i64))
                        .expect("valid date");
                    let compress = match args.compress {
                        Compress::Mixed => {
                            [Compress::Plain, Compress::Gzip, Compress::Zstd][index % 3]
                        }
                        c => c,
                    };
                    let suffix = match compress {
                        Compress::Gzip => ".gz",
                        Compress::Zstd => ".zst",
                        _ => "",
                    };
                    let name = format!(
                        "app_{app}_{env}_1.{tag}.0_{app}-{host_i:02}_{}.log{suffix}",
                        date.strftime("%Y%m%d")
                    );
                    let mut out = writer(&args.out.join(name), compress)?;
                    let spec = FileSpec {
                        lang,
                        app,
                        tag,
                        date: date.to_string(),
                        size: per_file,
                        trace_ratio: args.trace_ratio,
                    };
                    let refs = reference.as_mut().map(|r| r as &mut dyn Write);
                    let (events, traces, bytes) =
                        write_file(&mut out, refs, &mut counts, &own, &spec, &mut rng)?;
                    out.flush()?;
                    drop(out);
                    manifest.files += 1;
                    manifest.events += events;
                    manifest.trace_events += traces;
                    manifest.bytes += bytes;
                    index += 1;
                }
            }
        }
    }
    if let Some(reference) = reference.as_mut() {
        reference.flush()?;
    }
    for ((problem, app), count) in counts {
        let p = &problems[problem];
        let (language, root_type) = (p.language, p.root_type.clone());
        manifest.groups.push(ExpectedGroup {
            problem,
            app: app.to_owned(),
            language,
            root_type,
            count,
        });
    }
    let manifest_file = File::create(args.out.join("manifest.json"))?;
    serde_json::to_writer_pretty(manifest_file, &manifest)?;
    eprintln!(
        "stackfold-gen: {} files, {:.1} MB, {} events, {} with traces",
        manifest.files,
        manifest.bytes as f64 / 1e6,
        manifest.events,
        manifest.trace_events
    );
    Ok(())
}

/// What one file holds.
struct FileSpec<'a> {
    lang: Lang,
    app: &'a str,
    tag: usize,
    date: String,
    size: u64,
    trace_ratio: f64,
}

/// Writes one file; returns its events, trace events and bytes. With `reference`, also writes
/// each event as a tantivy-cli document (`timestamp`, `level`, `thread`, `logger`, `body`).
fn write_file<'a>(
    out: &mut dyn Write,
    mut reference: Option<&mut dyn Write>,
    counts: &mut std::collections::BTreeMap<(usize, &'a str), u64>,
    own: &[&Problem],
    spec: &FileSpec<'a>,
    rng: &mut fastrand::Rng,
) -> io::Result<(u64, u64, u64)> {
    let (mut events, mut traces, mut bytes) = (0u64, 0u64, 0u64);
    let mut ms: u64 = rng.u64(0..1000);
    let mut buf = String::with_capacity(4096);
    let mut body = String::with_capacity(4096);
    while bytes < spec.size {
        ms = (ms + rng.u64(1..2000)).min(86_399_999);
        let thread = rng.u32(1..200);
        let with_trace = !own.is_empty() && rng.f64() < spec.trace_ratio;
        let level = match with_trace {
            true => "ERROR",
            false => ["INFO", "INFO", "INFO", "DEBUG", "WARN"][rng.usize(0..5)],
        };
        body.clear();
        let mut panic = String::new();
        if with_trace {
            let p = own[rng.usize(0..own.len())];
            *counts.entry((p.id, spec.app)).or_default() += 1;
            traces += 1;
            if spec.lang == Lang::Go {
                body.push_str("handler failed, recovering\n");
                trace(&mut panic, p, spec.app, spec.tag, rng);
            } else {
                body.push_str(&fill("request {n} failed\n", rng));
                trace(&mut body, p, spec.app, spec.tag, rng);
            }
        } else {
            body.push_str(&fill(INFO[rng.usize(0..INFO.len())], rng));
            body.push('\n');
        }
        buf.clear();
        buf.push_str(&header(spec.lang, &spec.date, ms, level, spec.app, thread));
        buf.push_str(&body);
        buf.push_str(&panic);
        if let Some(reference) = reference.as_deref_mut() {
            let logger = match spec.lang {
                Lang::Java => format!("com.acme.{}.Service", spec.app),
                Lang::Python => format!("{}.worker", spec.app),
                Lang::Go => String::new(),
            };
            let ts = format!("{}T{}Z", spec.date, clock(ms));
            for text in [&body, &panic].into_iter().filter(|t| !t.is_empty()) {
                let doc = serde_json::json!({
                    "timestamp": ts,
                    "level": level,
                    "thread": format!("http-nio-8080-exec-{thread}"),
                    "logger": logger,
                    "body": text.trim_end(),
                });
                serde_json::to_writer(&mut *reference, &doc)?;
                reference.write_all(b"\n")?;
            }
        }
        events += 1 + u64::from(!panic.is_empty());
        out.write_all(buf.as_bytes())?;
        bytes += buf.len() as u64;
    }
    Ok((events, traces, bytes))
}

/// `HH:MM:SS.mmm` of `ms` milliseconds into the day.
fn clock(ms: u64) -> String {
    let (h, m, s, milli) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
    format!("{h:02}:{m:02}:{s:02}.{milli:03}")
}
