//! `stackfold ship` between real processes: edges following files, a central `stackfold
//! serve`, and between them, where a test needs it, a proxy that loses answers or says 429.
//! Each test ends by counting, in the central's index, every event written: once each.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A central `stackfold serve`, killed (SIGKILL) when dropped.
struct Central(Child);

impl Drop for Central {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A central `stackfold serve` on `port`; returns once it listens.
fn start_central(data: &Path, port: u16, extra: &[&str]) -> Central {
    let mut child = Command::new(common::binary())
        .args(["serve", "--data"])
        .arg(data)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting stackfold serve");
    // It prints its URL once listening.
    let mut url = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut url)
        .unwrap();
    assert!(url.contains(&port.to_string()), "{url:?}");
    Central(child)
}

struct Edge {
    name: String,
    logs: PathBuf,
    state: PathBuf,
    to: String,
    extra: Vec<String>,
}

impl Edge {
    fn new(dir: &Path, name: &str, to: &str, extra: &[impl AsRef<str>]) -> Edge {
        let edge = Edge {
            name: name.to_owned(),
            logs: dir.join(format!("{name}-logs")),
            state: dir.join(format!("{name}-state")),
            to: to.to_owned(),
            extra: extra.iter().map(|s| s.as_ref().to_owned()).collect(),
        };
        std::fs::create_dir_all(&edge.logs).unwrap();
        edge
    }

    fn command(&self) -> Command {
        let mut command = Command::new(common::binary());
        command
            .args([
                "ship",
                "--to",
                &self.to,
                "--host-name",
                &self.name,
                "--state",
            ])
            .arg(&self.state)
            .args(["--commit-interval-ms", "300", "--poll-ms", "100"])
            .args(["--retry-max-ms", "1000"])
            .args(&self.extra)
            .arg(&self.logs);
        command
    }

    fn start(&self) -> Child {
        self.command()
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting stackfold ship")
    }
}

/// Every event in the central's index (none before its first commit).
fn central_events(data: &Path) -> Vec<Value> {
    if !data.join("index/meta.json").exists() {
        return Vec::new();
    }
    common::search_all(data)
}

/// Waits until the central holds at least `count` events (or a minute passed), then a little
/// longer, so that a duplicate on its way would arrive too; returns them.
fn wait_for_events(data: &Path, count: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while central_events(data).len() < count && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(300));
    }
    std::thread::sleep(Duration::from_secs(2));
    central_events(data)
}

/// How many times each (host, `id=`) the events' messages carry.
fn ids(events: &[Value]) -> HashMap<(String, String), usize> {
    let mut seen = HashMap::new();
    for event in events {
        let host = event["meta"]["host"].as_str().unwrap_or("").to_owned();
        let message = event["message"].as_str().unwrap();
        let id = message.rsplit("id=").next().unwrap().to_owned();
        *seen.entry((host, id)).or_default() += 1;
    }
    seen
}

#[track_caller]
fn assert_once_each(events: &[Value], expected: &[(String, String)]) {
    let seen = ids(events);
    let dupes: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    // Where the first duplicate came from, to tell which files were read twice.
    if let Some(((host, id), _)) = dupes.first() {
        let suffix = format!("id={id}");
        for e in events.iter().filter(|e| {
            e["meta"]["host"] == host.as_str() && e["message"].as_str().unwrap().ends_with(&suffix)
        }) {
            eprintln!("{host} {id}: {} at {}", e["source"], e["offset"]);
        }
    }
    assert!(
        dupes.is_empty(),
        "{} ids more than once, e.g. {:?}",
        dupes.len(),
        &dupes[..dupes.len().min(5)]
    );
    let missing: Vec<_> = expected.iter().filter(|k| !seen.contains_key(*k)).collect();
    assert!(
        missing.is_empty(),
        "{} of {} ids missing, e.g. {:?}",
        missing.len(),
        expected.len(),
        &missing[..missing.len().min(5)]
    );
    assert_eq!(events.len(), expected.len());
}

/// Writes `count` events numbered from `first`, every fifth with a Java trace.
fn write_events(path: &Path, first: usize, count: usize) {
    let mut text = String::new();
    for n in first..first + count {
        if n % 5 == 0 {
            text.push_str(&format!(
                "2024-03-01 10:00:00,{:03} ERROR [main] com.acme.Billing - failed id={n}\n\
                 java.lang.IllegalStateException: order {n}\n\
                 \tat com.acme.Billing.charge(Billing.java:42)\n\
                 \tat java.base/java.lang.Thread.run(Thread.java:833)\n",
                n % 1000
            ));
        } else {
            text.push_str(&format!(
                "2024-03-01 10:00:00,{:03} INFO  [main] com.acme.App - handled id={n}\n",
                n % 1000
            ));
        }
    }
    common::append(path, &text);
}

fn expected(host: &str, ids: impl IntoIterator<Item = usize>) -> Vec<(String, String)> {
    ids.into_iter()
        .map(|n| (host.to_owned(), n.to_string()))
        .collect()
}

/// The edge's metrics, as numbers by name.
fn edge_metrics(port: u16) -> HashMap<String, f64> {
    let text = ureq::get(format!("http://127.0.0.1:{port}/metrics"))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit_once(' '))
        .filter_map(|(name, value)| Some((name.to_owned(), value.parse().ok()?)))
        .collect()
}

/// What the proxy does with the `n`th request (0-based).
#[derive(Debug, Clone)]
enum Act {
    Forward,
    /// Forward it, wait for the central's answer, and close the connection without passing
    /// the answer on: the central committed, the edge never heard.
    LoseAnswer,
    /// Answer with this status and `Retry-After` instead of forwarding.
    Refuse(u16, u64),
}

/// An HTTP proxy in front of the central, one connection per request towards it.
struct Proxy {
    port: u16,
    /// Method, path and arrival of each request.
    seen: Arc<Mutex<Vec<(String, Instant)>>>,
}

impl Proxy {
    fn start(upstream: u16, act: impl Fn(usize, &str) -> Act + Send + Sync + 'static) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let act = Arc::new(act);
        let count = Arc::new(AtomicUsize::new(0));
        let log = Arc::clone(&seen);
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let (act, count, log) = (Arc::clone(&act), Arc::clone(&count), Arc::clone(&log));
                std::thread::spawn(move || {
                    let mut client = BufReader::new(client);
                    while let Some((head, body)) = read_request(&mut client) {
                        let line = head.lines().next().unwrap_or("").to_owned();
                        log.lock().unwrap().push((line.clone(), Instant::now()));
                        let n = count.fetch_add(1, Ordering::SeqCst);
                        let stream = client.get_mut();
                        match act(n, &line) {
                            Act::Forward => {
                                let answer = forward(upstream, &head, &body);
                                stream.write_all(&answer).unwrap();
                            }
                            Act::LoseAnswer => {
                                forward(upstream, &head, &body);
                                return; // dropping the connection unanswered
                            }
                            Act::Refuse(status, after) => {
                                let body = r#"{"error":{"type":"es_rejected_execution_exception","reason":"busy"},"status":429}"#;
                                let answer = format!(
                                    "HTTP/1.1 {status} Busy\r\nRetry-After: {after}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                                    body.len()
                                );
                                stream.write_all(answer.as_bytes()).unwrap();
                            }
                        }
                    }
                });
            }
        });
        Proxy { port, seen }
    }

    fn bulks(&self) -> Vec<Instant> {
        let seen = self.seen.lock().unwrap();
        seen.iter()
            .filter(|(line, _)| line.starts_with("POST") && line.contains("_bulk"))
            .map(|(_, at)| *at)
            .collect()
    }
}

/// Reads one request: its head (request line and headers) and its body.
fn read_request(client: &mut BufReader<TcpStream>) -> Option<(String, Vec<u8>)> {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if client.read_line(&mut line).ok()? == 0 {
            return None;
        }
        head.push_str(&line);
        if line == "\r\n" {
            break;
        }
    }
    let length = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    let mut body = vec![0; length];
    client.read_exact(&mut body).ok()?;
    Some((head, body))
}

/// Sends a request to the central on a connection of its own; returns the whole answer.
fn forward(upstream: u16, head: &str, body: &[u8]) -> Vec<u8> {
    let mut central = TcpStream::connect(("127.0.0.1", upstream)).unwrap();
    let head: String = head
        .split_inclusive("\r\n")
        .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
        .collect();
    let head = head.trim_end_matches("\r\n").to_owned() + "\r\nConnection: close\r\n\r\n";
    central.write_all(head.as_bytes()).unwrap();
    central.write_all(body).unwrap();
    let mut answer = Vec::new();
    central.read_to_end(&mut answer).unwrap();
    answer
}

fn sigterm(child: &Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn a_batch_whose_answer_is_lost_after_commit_is_sent_again_and_not_stored_twice() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("central");
    let central_port = free_port();
    let _central = start_central(&data, central_port, &[]);
    let first_bulk = Arc::new(Mutex::new(None));
    let first = Arc::clone(&first_bulk);
    let proxy = Proxy::start(central_port, move |n, line| {
        let mut first = first.lock().unwrap();
        if line.starts_with("POST") && first.is_none() {
            *first = Some(n);
            return Act::LoseAnswer;
        }
        Act::Forward
    });
    let metrics = free_port();
    let edge = Edge::new(
        dir.path(),
        "web01",
        &format!("http://127.0.0.1:{}", proxy.port),
        &["--metrics-listen", &format!("127.0.0.1:{metrics}")],
    );
    write_events(&edge.logs.join("app.log"), 0, 300);
    let mut ship = edge.start();
    let events = wait_for_events(&data, 300);
    assert_once_each(&events, &expected("web01", 0..300));
    assert!(proxy.bulks().len() >= 2, "the lost batch was sent again");
    let m = edge_metrics(metrics);
    assert!(
        m["stackfold_ship_duplicate_events_total"] > 0.0,
        "the central recognised the resent events: {m:?}"
    );
    assert_eq!(
        m["stackfold_ship_events_total"], 300.0,
        "each event acknowledged once, as stored or as already there"
    );
    assert_eq!(m["stackfold_ship_lag_bytes"], 0.0);
    sigterm(&ship);
    assert!(ship.wait().unwrap().success());
}

#[test]
fn a_central_answering_429_is_waited_for_as_it_asks_then_gets_everything_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("central");
    let central_port = free_port();
    let _central = start_central(&data, central_port, &[]);
    let proxy = Proxy::start(central_port, |n, line| {
        // The probe is request 0; the first three bulks are refused.
        if line.starts_with("POST") && n <= 3 {
            Act::Refuse(429, 1)
        } else {
            Act::Forward
        }
    });
    let edge = Edge::new(
        dir.path(),
        "web02",
        &format!("http://127.0.0.1:{}", proxy.port),
        &[] as &[&str],
    );
    write_events(&edge.logs.join("app.log"), 0, 200);
    let mut ship = edge.start();
    let events = wait_for_events(&data, 200);
    assert_once_each(&events, &expected("web02", 0..200));
    let bulks = proxy.bulks();
    assert!(bulks.len() >= 4, "{} bulks", bulks.len());
    for pair in bulks[..4].windows(2) {
        let waited = pair[1] - pair[0];
        assert!(
            waited >= Duration::from_millis(950),
            "Retry-After: 1 is honoured, waited {waited:?}"
        );
    }
    sigterm(&ship);
    assert!(ship.wait().unwrap().success());
}

/// A private certificate authority and a certificate it signed for 127.0.0.1.
fn private_ca(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl (tests/setup installs it)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    run(&[
        &["req", "-x509"][..],
        &ec,
        &[
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=stackfold test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign",
        ],
    ]
    .concat());
    run(&[
        &["req"][..],
        &ec,
        &[
            "-keyout",
            "key.pem",
            "-out",
            "req.csr",
            "-subj",
            "/CN=127.0.0.1",
        ],
    ]
    .concat());
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "req.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "cert.pem",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
    ]);
    (
        dir.join("ca.pem"),
        dir.join("cert.pem"),
        dir.join("key.pem"),
    )
}

/// A users file with `user`'s password.
fn users_file(dir: &Path, user: &str, password: &str) -> PathBuf {
    let mut passwd = Command::new(common::binary())
        .args(["passwd", user])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    passwd
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{password}\n").as_bytes())
        .unwrap();
    let out = passwd.wait_with_output().unwrap();
    assert!(out.status.success());
    let path = dir.join("ingest.users");
    std::fs::write(&path, &out.stdout).unwrap();
    path
}

#[test]
fn https_with_a_private_ca_and_credentials_ships_and_wrong_ones_stop_the_edge_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = private_ca(dir.path());
    let users = users_file(dir.path(), "edge", "s3cret pass");
    let data = dir.path().join("central");
    let port = free_port();
    let _central = start_central(
        &data,
        port,
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
            "--ingest-auth-file",
            users.to_str().unwrap(),
        ],
    );
    let url = format!("https://127.0.0.1:{port}");
    std::fs::write(dir.path().join("password"), "s3cret pass\n").unwrap();
    std::fs::write(dir.path().join("wrong"), "guess\n").unwrap();

    // Without the private CA the certificate is not trusted: a clear error, no retries.
    let untrusting = Edge::new(dir.path(), "untrusting", &url, &[] as &[&str]);
    write_events(&untrusting.logs.join("app.log"), 0, 10);
    let out = run_to_exit(untrusting.command());
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("certificate") || stderr.contains("Certificate"),
        "{stderr}"
    );

    // The right CA but a wrong password: the central's refusal, once.
    let signed_in = |password: &str| {
        let file = dir.path().join(password);
        [
            "--ca",
            ca.to_str().unwrap(),
            "--user",
            "edge",
            "--password-file",
        ]
        .map(str::to_owned)
        .into_iter()
        .chain([file.to_string_lossy().into_owned()])
        .collect::<Vec<String>>()
    };
    let wrong = Edge::new(dir.path(), "wrong", &url, &signed_in("wrong"));
    write_events(&wrong.logs.join("app.log"), 0, 10);
    let started = Instant::now();
    let out = run_to_exit(wrong.command());
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("refused the edge's credentials"),
        "{stderr}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "stops at once, not after retries"
    );

    let edge = Edge::new(dir.path(), "web03", &url, &signed_in("password"));
    write_events(&edge.logs.join("app.log"), 0, 100);
    let mut ship = edge.start();
    let events = wait_for_events(&data, 100);
    assert_once_each(&events, &expected("web03", 0..100));
    sigterm(&ship);
    assert!(ship.wait().unwrap().success());
}

/// Runs an edge expected to stop by itself; kills it after 30 s.
fn run_to_exit(mut command: Command) -> std::process::Output {
    let mut child = command
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn a_file_rotated_away_and_deleted_while_the_central_is_down_is_shipped_whole() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("central");
    let port = free_port();
    let metrics = free_port();
    // Small batches, so that the edge's queue is full and it stops reading long before the
    // central comes.
    let edge = Edge::new(
        dir.path(),
        "web04",
        &format!("http://127.0.0.1:{port}"),
        &[
            "--batch-events",
            "10",
            "--metrics-listen",
            &format!("127.0.0.1:{metrics}"),
        ],
    );
    let live = edge.logs.join("app.log");
    write_events(&live, 0, 400);
    let mut ship = edge.start();
    std::thread::sleep(Duration::from_secs(2));
    let lag = edge_metrics(metrics)["stackfold_ship_lag_bytes"];
    assert!(lag > 0.0, "the edge reports how far behind it is");
    // Rotated (renamed) and a new file started; then the rotated one deleted.
    std::fs::rename(&live, edge.logs.join("app.log.1")).unwrap();
    write_events(&live, 400, 100);
    std::thread::sleep(Duration::from_secs(2));
    std::fs::remove_file(edge.logs.join("app.log.1")).unwrap();
    std::thread::sleep(Duration::from_secs(1));
    let _central = start_central(&data, port, &[]);
    let events = wait_for_events(&data, 500);
    assert_once_each(&events, &expected("web04", 0..500));
    sigterm(&ship);
    assert!(ship.wait().unwrap().success());
}

fn livegen() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_stackfold-livegen"))
}

#[test]
fn three_edges_and_their_central_killed_again_and_again_store_every_event_exactly_once() {
    const EDGES: usize = 3;
    const FILES: usize = 2;
    const EVENTS: usize = 500;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("central");
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let edges: Vec<Edge> = (0..EDGES)
        .map(|i| Edge::new(dir.path(), &format!("edge{i}"), &url, &[] as &[&str]))
        .collect();
    // Each edge's service writes and rotates its files: rename, copytruncate, delayed gzip.
    let mut writers: Vec<Option<Child>> = edges
        .iter()
        .enumerate()
        .map(|(i, edge)| {
            let child = Command::new(livegen())
                .arg("--dir")
                .arg(&edge.logs)
                .args([
                    "--files",
                    &FILES.to_string(),
                    "--events",
                    &EVENTS.to_string(),
                ])
                .args([
                    "--rate",
                    "25",
                    "--rotate-every",
                    "80",
                    "--seed",
                    &(i + 1).to_string(),
                ])
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            Some(child)
        })
        .collect();
    let mut central = Some(start_central(&data, port, &[]));
    let mut ships: Vec<Child> = edges.iter().map(Edge::start).collect();
    let mut rng = fastrand::Rng::with_seed(12);
    let (mut edge_kills, mut central_kills, mut outage_done) = (0, 0, false);
    let mut by_type: BTreeMap<String, u64> = BTreeMap::new();
    let started = Instant::now();
    while edge_kills < 20
        || central_kills < 10
        || !outage_done
        || writers.iter().any(Option::is_some)
    {
        assert!(
            started.elapsed() < Duration::from_secs(240),
            "the writers never finished"
        );
        std::thread::sleep(Duration::from_millis(200 + rng.u64(..600)));
        let i = rng.usize(..EDGES);
        ships[i].kill().unwrap(); // SIGKILL
        ships[i].wait().unwrap();
        ships[i] = edges[i].start();
        edge_kills += 1;
        if edge_kills % 2 == 0 {
            drop(central.take()); // SIGKILL
            central_kills += 1;
            if central_kills == 5 && !outage_done {
                // Down for 10 s while the services write and rotate.
                std::thread::sleep(Duration::from_secs(10));
                outage_done = true;
            }
            central = Some(start_central(&data, port, &[]));
        }
        for writer in &mut writers {
            if writer
                .as_mut()
                .is_some_and(|w| w.try_wait().unwrap().is_some())
            {
                let out = writer.take().unwrap().wait_with_output().unwrap();
                assert!(out.status.success());
                let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
                let written: BTreeMap<String, u64> =
                    serde_json::from_value(summary["by_root_type"].clone()).unwrap();
                for (ty, n) in written {
                    *by_type.entry(ty).or_default() += n;
                }
            }
        }
    }
    let expected: Vec<(String, String)> = (0..EDGES)
        .flat_map(|e| {
            (0..FILES).flat_map(move |f| {
                (0..EVENTS).map(move |n| (format!("edge{e}"), format!("f{f}-{n}")))
            })
        })
        .collect();
    let events = wait_for_events(&data, expected.len());
    for ship in &ships {
        sigterm(ship);
    }
    for ship in &mut ships {
        assert!(ship.wait().unwrap().success());
    }
    assert_once_each(&events, &expected);

    let counted = common::group_counts(&data);
    assert_eq!(
        counted, by_type,
        "one group per problem across edges, exact counts"
    );
}

#[test]
fn run_with_a_ship_section_is_an_edge() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("central");
    let port = free_port();
    let _central = start_central(&data, port, &[]);
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    write_events(&logs.join("app.log"), 0, 50);
    let config = dir.path().join("edge.toml");
    std::fs::write(
        &config,
        format!(
            "[input]\npaths = [\"logs\"]\n[tail]\ncommit_interval_ms = 300\n\
             [ship]\nto = \"http://127.0.0.1:{port}\"\nstate = \"state\"\nhost_name = \"web05\"\n"
        ),
    )
    .unwrap();
    let mut run = Command::new(common::binary())
        .args(["run", "--config"])
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let events = wait_for_events(&data, 50);
    assert_once_each(&events, &expected("web05", 0..50));
    assert!(
        dir.path().join("state/state.json").exists(),
        "the state directory is relative to the config file"
    );
    sigterm(&run);
    assert!(run.wait().unwrap().success());
}
