//! Alerts as users run them: `stackfold tail` with `[[alerts]]` in its config, a webhook
//! receiver on 127.0.0.1, logs appended as a service would write them.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A webhook receiver: records every request's body and answers the statuses of `answers`
/// in turn (200 once they run out).
struct Receiver {
    url: String,
    bodies: Arc<Mutex<Vec<Value>>>,
}

impl Receiver {
    fn start(answers: Vec<u16>) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&bodies);
        std::thread::spawn(move || {
            let mut answers = answers.into_iter();
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut length = 0;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        break;
                    }
                    let lower = line.to_ascii_lowercase();
                    if let Some(v) = lower.strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap();
                    }
                    if line == "\r\n" {
                        break;
                    }
                }
                let mut body = vec![0; length];
                if reader.read_exact(&mut body).is_err() {
                    continue;
                }
                if let Ok(value) = serde_json::from_slice(&body) {
                    seen.lock().unwrap().push(value);
                }
                let status = answers.next().unwrap_or(200);
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
            }
        });
        Receiver { url, bodies }
    }

    fn bodies(&self) -> Vec<Value> {
        self.bodies.lock().unwrap().clone()
    }

    /// Waits up to `limit` for `n` bodies in all.
    fn wait_for(&self, n: usize, limit: Duration) -> Vec<Value> {
        let start = Instant::now();
        while start.elapsed() < limit {
            let bodies = self.bodies();
            if bodies.len() >= n {
                return bodies;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.bodies()
    }
}

fn config(dir: &Path, receiver: &Receiver, rule: &str) -> std::path::PathBuf {
    let path = dir.join("stackfold.toml");
    let text = format!(
        "[server]\npublic_url = \"https://stackfold.example.com\"\n\n[[alerts]]\n{rule}\nwebhook = \"{}\"\n",
        receiver.url
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// A test's directory (logs, data, config) and its webhook receiver.
struct Setup {
    dir: tempfile::TempDir,
    logs: std::path::PathBuf,
    data: std::path::PathBuf,
    receiver: Receiver,
    config: std::path::PathBuf,
}

/// A directory with an empty `logs/`, a receiver answering `answers`, and a config holding
/// the one alert `rule`.
fn setup(answers: Vec<u16>, rule: &str) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&logs).unwrap();
    let receiver = Receiver::start(answers);
    let config = config(dir.path(), &receiver, rule);
    Setup {
        dir,
        logs,
        data,
        receiver,
        config,
    }
}

/// Today's log of the billing app in `env`, release `tag`.
fn todays_log(logs: &Path, env: &str, tag: &str) -> std::path::PathBuf {
    let today = jiff::Zoned::now().strftime("%Y%m%d").to_string();
    logs.join(format!("app_billing_{env}_{tag}_web01_{today}.log"))
}

fn start_tail(data: &Path, logs: &Path, config: &Path) -> Child {
    Command::new(common::binary())
        .args(["tail", "--data"])
        .arg(data)
        .arg(logs)
        .arg("--config")
        .arg(config)
        .args([
            "--commit-interval-ms",
            "200",
            "--poll-ms",
            "100",
            "--idle-ms",
            "200",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting stackfold tail")
}

/// An exception event of type `ty` at `ts` as log4j writes it.
fn trace(ts: jiff::Timestamp, ty: &str, n: u32) -> String {
    let time = ts.strftime("%Y-%m-%d %H:%M:%S,%3f");
    format!(
        "{time} ERROR [main] com.acme.Billing - charge {n} failed\n\
         {ty}: card declined\n\
         \tat com.acme.Billing.charge(Billing.java:42)\n\
         \tat com.acme.Api.handle(Api.java:7)\n"
    )
}

fn count(data: &Path) -> usize {
    if !data.join("index/meta.json").exists() {
        return 0;
    }
    common::search_all(data).len()
}

use common::append;

fn wait_indexed(data: &Path, n: usize) {
    let start = Instant::now();
    while count(data) < n {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "never indexed {n}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_new_problem_notifies_once_backfill_never_and_a_regression_once() {
    let Setup {
        dir,
        logs,
        data,
        receiver,
        config,
    } = setup(
        vec![],
        "name = \"new in production\"\nwhen = \"new\"\nenv = [\"pro\"]",
    );
    // Old logs: a backfill of last year's problems.
    let old = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24 * 300);
    let backfill = logs.join("app_billing_pro_1.4.2_web01_20250101.log");
    append(&backfill, &trace(old, "java.lang.IllegalStateException", 1));
    append(&backfill, &trace(old, "java.io.IOException", 2));
    let _tail = Killed(start_tail(&data, &logs, &config));
    wait_indexed(&data, 2);
    std::thread::sleep(Duration::from_secs(2));
    assert!(receiver.bodies().is_empty(), "backfilling notifies nobody");

    // A new problem in production, and one in another environment.
    let live = todays_log(&logs, "pro", "1.4.3");
    // The new problem of this test, now, as event `n`.
    let problem_occurs = |n| {
        let ty = "java.util.ConcurrentModificationException";
        append(&live, &trace(jiff::Timestamp::now(), ty, n));
    };
    let dev = todays_log(&logs, "dev", "1.4.3");
    append(
        &dev,
        &trace(jiff::Timestamp::now(), "java.lang.ArithmeticException", 3),
    );
    let written = Instant::now();
    problem_occurs(4);
    let bodies = receiver.wait_for(1, Duration::from_secs(10));
    let took = written.elapsed();
    assert_eq!(bodies.len(), 1, "{bodies:#?}");
    // Sent while the problem is live, not with a later batch: the commit interval is 200 ms
    // and the alerts thread looks every 250 ms. A loose bound, not a measure of speed (the
    // 2.5 s this said before is within what a loaded test machine can miss).
    assert!(took < Duration::from_secs(8), "took {took:?}");
    let note = &bodies[0];
    assert_eq!(note["rule"], "new in production");
    assert_eq!(note["kind"], "new");
    assert_eq!(
        note["group"]["root_type"],
        "java.util.ConcurrentModificationException"
    );
    let fp = note["group"]["fingerprint"].as_str().unwrap().to_owned();
    assert_eq!(note["event"]["exception"]["fingerprint"], fp.as_str());
    assert_eq!(
        note["url"],
        format!("https://stackfold.example.com/#/group/{fp}").as_str()
    );
    assert_eq!(note["id"].as_str().unwrap().len(), 32);

    // Seen again: no second notification.
    problem_occurs(5);
    wait_indexed(&data, 5);
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(receiver.bodies().len(), 1);
    drop(_tail);

    // Resolved, then seen again: a regression, for a rule that watches for them.
    let config = self::config(
        dir.path(),
        &receiver,
        "name = \"regressions\"\nwhen = \"regression\"",
    );
    common::stackfold(&["resolve", "--data", data.to_str().unwrap(), &fp]);
    let _tail = Killed(start_tail(&data, &logs, &config));
    std::thread::sleep(Duration::from_millis(1500));
    problem_occurs(6);
    let bodies = receiver.wait_for(2, Duration::from_secs(10));
    assert_eq!(bodies.len(), 2, "{bodies:#?}");
    assert_eq!(bodies[1]["kind"], "regression");
    assert_eq!(bodies[1]["group"]["fingerprint"], fp.as_str());
    assert_eq!(bodies[1]["group"]["status"], "unresolved");
    assert_eq!(bodies[1]["group"]["regressed_in"], "1.4.3");
    problem_occurs(7);
    wait_indexed(&data, 7);
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(receiver.bodies().len(), 2, "one regression notification");
    let out = common::stackfold(&["exceptions", "--data", data.to_str().unwrap(), "--json"]);
    let groups: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let group = groups
        .iter()
        .find(|g| g["fingerprint"] == fp.as_str())
        .unwrap();
    assert!(group["regressed_at"].is_string(), "{group}");
}

#[test]
fn a_receiver_failing_three_times_gets_the_notification_exactly_once_more() {
    let Setup {
        dir: _dir,
        logs,
        data,
        receiver,
        config,
    } = setup(vec![500, 500, 500], "name = \"all new\"\nwhen = \"new\"");
    let live = todays_log(&logs, "pro", "1.4.3");
    append(
        &live,
        "2020-01-01 00:00:00,000 INFO  [main] com.acme.App - started\n",
    );
    let _tail = Killed(start_tail(&data, &logs, &config));
    wait_indexed(&data, 1);
    append(
        &live,
        &trace(jiff::Timestamp::now(), "java.lang.IllegalStateException", 1),
    );
    // Retries after 1, 2 and 4 s.
    let bodies = receiver.wait_for(4, Duration::from_secs(20));
    assert_eq!(bodies.len(), 4, "{bodies:#?}");
    assert!(bodies.iter().all(|b| b["id"] == bodies[0]["id"]));
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(receiver.bodies().len(), 4, "confirmed: never sent again");
}

/// Killed with SIGKILL again and again while new problems keep coming: every problem's
/// notification reaches the receiver (a duplicate only of one whose 2xx was not recorded).
#[test]
fn killed_between_evaluation_and_delivery_loses_no_notification() {
    let Setup {
        dir: _dir,
        logs,
        data,
        receiver,
        config,
    } = setup(vec![], "name = \"new\"\nwhen = \"new\"");
    let live = todays_log(&logs, "pro", "1.4.3");
    append(
        &live,
        "2020-01-01 00:00:00,000 INFO  [main] com.acme.App - started\n",
    );
    {
        // The rule's first run: what comes after it is new.
        let _tail = Killed(start_tail(&data, &logs, &config));
        wait_indexed(&data, 1);
        std::thread::sleep(Duration::from_millis(800));
    }
    let problems = 30;
    let writer = {
        let live = live.clone();
        std::thread::spawn(move || {
            for n in 0..problems {
                let ty = format!("com.acme.Failure{n}Exception");
                append(&live, &trace(jiff::Timestamp::now(), &ty, n));
                std::thread::sleep(Duration::from_millis(120));
            }
        })
    };
    let mut rng = fastrand::Rng::with_seed(15);
    let mut kills = 0;
    while kills < 12 || !writer.is_finished() {
        let mut tail = start_tail(&data, &logs, &config);
        std::thread::sleep(Duration::from_millis(200 + rng.u64(..700)));
        tail.kill().unwrap(); // SIGKILL
        tail.wait().unwrap();
        kills += 1;
    }
    writer.join().unwrap();
    let _tail = Killed(start_tail(&data, &logs, &config));
    let start = Instant::now();
    let distinct = || {
        let mut ids: Vec<String> = receiver
            .bodies()
            .iter()
            .map(|b| b["id"].as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        ids.dedup();
        ids
    };
    // A notification claimed by a killed sender waits out its claim (15 s) first.
    while distinct().len() < problems as usize && start.elapsed() < Duration::from_secs(45) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let bodies = receiver.bodies();
    let ids = distinct();
    let types: std::collections::BTreeSet<String> = bodies
        .iter()
        .map(|b| b["group"]["root_type"].as_str().unwrap().to_owned())
        .collect();
    eprintln!(
        "{kills} kills; {} notifications, {} distinct, {} duplicates",
        bodies.len(),
        ids.len(),
        bodies.len() - ids.len()
    );
    assert_eq!(ids.len(), problems as usize, "{types:?}");
    assert_eq!(types.len(), problems as usize);
    // Duplicates are rare: only a kill between a 2xx and its record makes one.
    assert!(
        bodies.len() - ids.len() <= kills,
        "{} duplicates",
        bodies.len() - ids.len()
    );
}

/// A spike of 50 events in a minute after a quiet day sends one notification.
#[test]
fn a_spike_after_a_quiet_day_notifies_once() {
    let Setup {
        dir: _dir,
        logs,
        data,
        receiver,
        config,
    } = setup(
        vec![],
        "name = \"spikes\"\nwhen = \"spike\"\nwindow = \"1m\"\nfactor = 5\nmin_count = 20",
    );
    let live = todays_log(&logs, "pro", "1.4.3");
    let now = jiff::Timestamp::now();
    // A quiet day: one event an hour.
    for hour in (1..24).rev() {
        let ts = now - jiff::SignedDuration::from_hours(hour);
        append(
            &live,
            &trace(ts, "java.net.SocketTimeoutException", hour as u32),
        );
    }
    let _tail = Killed(start_tail(&data, &logs, &config));
    wait_indexed(&data, 23);
    std::thread::sleep(Duration::from_secs(1));
    assert!(receiver.bodies().is_empty(), "a quiet day is no spike");
    let burst: String = (0..50)
        .map(|n| {
            trace(
                jiff::Timestamp::now(),
                "java.net.SocketTimeoutException",
                100 + n,
            )
        })
        .collect();
    append(&live, &burst);
    let bodies = receiver.wait_for(1, Duration::from_secs(10));
    assert_eq!(bodies.len(), 1, "{bodies:#?}");
    assert_eq!(bodies[0]["kind"], "spike");
    assert_eq!(
        bodies[0]["group"]["root_type"],
        "java.net.SocketTimeoutException"
    );
    // More of the same within the throttle: nothing more.
    let more: String = (0..30)
        .map(|n| {
            trace(
                jiff::Timestamp::now(),
                "java.net.SocketTimeoutException",
                200 + n,
            )
        })
        .collect();
    append(&live, &more);
    wait_indexed(&data, 103);
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(receiver.bodies().len(), 1);
}

/// `stackfold index` evaluates the rules too: a first run over old logs notifies nobody, a
/// later run that brings a new problem notifies before it exits.
#[test]
fn index_evaluates_the_rules_after_its_commit() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let receiver = Receiver::start(vec![]);
    let config = config(dir.path(), &receiver, "name = \"new\"\nwhen = \"new\"");
    let index = |path: &Path| {
        common::stackfold(&[
            "index",
            "--data",
            data.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
            path.to_str().unwrap(),
        ]);
    };
    let old = dir.path().join("app_billing_pro_1.4.2_web01_20250101.log");
    let then = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24 * 300);
    append(&old, &trace(then, "java.lang.IllegalStateException", 1));
    index(&old);
    assert!(receiver.bodies().is_empty());
    let today = jiff::Zoned::now().strftime("%Y%m%d").to_string();
    let new = dir
        .path()
        .join(format!("app_billing_pro_1.4.3_web01_{today}.log"));
    append(
        &new,
        &trace(jiff::Timestamp::now(), "java.lang.ArithmeticException", 2),
    );
    index(&new);
    let bodies = receiver.wait_for(1, Duration::from_secs(2));
    assert_eq!(bodies.len(), 1, "{bodies:#?}");
    assert_eq!(
        bodies[0]["group"]["root_type"],
        "java.lang.ArithmeticException"
    );
}

/// `new_in_release`: a new group in a release the app ran before the rule existed is not
/// news of a release; one in a release deployed since is.
#[test]
fn new_in_release_fires_for_new_groups_of_new_releases_only() {
    let Setup {
        dir: _dir,
        logs,
        data,
        receiver,
        config,
    } = setup(vec![], "name = \"release\"\nwhen = \"new_in_release\"");
    let old = todays_log(&logs, "pro", "1.4.2");
    let then = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(2);
    append(&old, &trace(then, "java.lang.IllegalStateException", 1));
    let _tail = Killed(start_tail(&data, &logs, &config));
    wait_indexed(&data, 1);
    std::thread::sleep(Duration::from_secs(1));
    // A new problem, but in the release that was running already.
    append(
        &old,
        &trace(jiff::Timestamp::now(), "java.io.IOException", 2),
    );
    wait_indexed(&data, 2);
    std::thread::sleep(Duration::from_secs(1));
    assert!(receiver.bodies().is_empty(), "{:#?}", receiver.bodies());
    // A new problem that comes with a new release.
    let new = todays_log(&logs, "pro", "1.4.3");
    append(
        &new,
        &trace(jiff::Timestamp::now(), "java.lang.ArithmeticException", 3),
    );
    let bodies = receiver.wait_for(1, Duration::from_secs(10));
    assert_eq!(bodies.len(), 1, "{bodies:#?}");
    assert_eq!(bodies[0]["kind"], "new_in_release");
    assert_eq!(bodies[0]["group"]["first_tag"], "1.4.3");
}

/// A log line without a trace at `ts`.
fn line(ts: jiff::Timestamp, level: &str, message: &str) -> String {
    let time = ts.strftime("%Y-%m-%d %H:%M:%S,%3f");
    format!("{time} {level} [main] com.acme.Pool - {message}\n")
}

/// A rule of patterns: a new ERROR pattern in production notifies once, whatever its
/// variable parts; old patterns, other levels and other envs do not.
#[test]
fn a_new_error_pattern_notifies_once() {
    let Setup {
        dir: _dir,
        logs,
        data,
        receiver,
        config,
    } = setup(
        vec![],
        "name = \"new error patterns\"\nof = \"patterns\"\nwhen = \"new\"\nenv = [\"pro\"]\nlevel = [\"ERROR\", \"FATAL\"]",
    );
    let old = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24 * 300);
    let backfill = logs.join("app_billing_pro_1.4.2_web01_20250101.log");
    append(&backfill, &line(old, "ERROR", "disk /dev/sda1 full"));
    let _tail = Killed(start_tail(&data, &logs, &config));
    wait_indexed(&data, 1);
    std::thread::sleep(Duration::from_secs(2));
    assert!(receiver.bodies().is_empty(), "backfilling notifies nobody");

    let live = todays_log(&logs, "pro", "1.4.3");
    let now = jiff::Timestamp::now;
    append(&live, &line(now(), "WARN", "pool at 95 % of 20"));
    append(
        &todays_log(&logs, "dev", "1.4.3"),
        &line(now(), "ERROR", "Connection refused to 10.0.0.9:5432"),
    );
    append(&live, &line(now(), "ERROR", "disk /dev/sdb2 full"));
    append(
        &live,
        &line(now(), "ERROR", "Connection refused to 10.0.0.3:5432"),
    );
    let bodies = receiver.wait_for(1, Duration::from_secs(10));
    assert_eq!(bodies.len(), 1, "{bodies:#?}");
    let note = &bodies[0];
    assert_eq!(note["kind"], "new");
    assert!(note.get("group").is_none(), "{note}");
    assert_eq!(
        note["pattern"]["template"],
        "Connection refused to <*>:<num>"
    );
    assert_eq!(note["pattern"]["count"], 1);
    let id = note["pattern"]["id"].as_str().unwrap();
    assert_eq!(note["event"]["pattern"]["id"], id);
    assert_eq!(
        note["url"],
        format!("https://stackfold.example.com/#/pattern/{id}?severity=all").as_str()
    );

    // The same pattern again, other address: no second notification.
    append(
        &live,
        &line(now(), "ERROR", "Connection refused to 10.0.0.4:6543"),
    );
    wait_indexed(&data, 6);
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(receiver.bodies().len(), 1);
}
