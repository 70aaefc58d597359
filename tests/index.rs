//! `stackfold index`, `search`, `exceptions`, `show` and `prune` on fixtures and generated
//! corpora: exact results, idempotence, growth, retention and crash recovery.

mod common;

use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use stackfold::query::{Filters, Reader};

fn data_arg(dir: &tempfile::TempDir) -> String {
    dir.path().join("data").display().to_string()
}

fn index(data: &str, paths: &[&str]) -> Value {
    let mut args = vec!["index", "--data", data, "--tz", "UTC", "--json"];
    args.extend_from_slice(paths);
    let out = common::stackfold(&args);
    serde_json::from_slice(&out.stdout).expect("index --json prints a summary")
}

fn fixture_dirs() -> Vec<String> {
    ["java", "python", "go", "compressed"]
        .iter()
        .map(|d| common::fixtures().join(d).display().to_string())
        .collect()
}

/// Indexes the fixtures of [`fixture_dirs`] into `data`; the summary.
fn index_fixtures(data: &str) -> Value {
    let dirs = fixture_dirs();
    let dirs: Vec<&str> = dirs.iter().map(String::as_str).collect();
    index(data, &dirs)
}

fn reader(data: &str) -> Reader {
    Reader::open(Path::new(data)).unwrap()
}

use common::json_lines;

#[test]
fn fixtures_search_and_groups() {
    let tmp = tempfile::tempdir().unwrap();
    let data = data_arg(&tmp);
    let summary = index_fixtures(&data);
    let events = summary["events"].as_u64().unwrap();
    assert_eq!(
        reader(&data).count("", &Filters::default()).unwrap() as u64,
        events
    );

    // Code-shaped words match as phrases over camelCase and dotted parts.
    let out = common::stackfold(&["search", "--data", &data, "--json", "PaymentClient.charge"]);
    let hits = json_lines(&out);
    assert_eq!(hits.len(), 8, "2 per copy: 1.4.2 plain, gz, zst and 1.4.3");
    assert!(
        hits.windows(2)
            .all(|w| w[0]["ts"].as_str() >= w[1]["ts"].as_str()),
        "newest first"
    );
    for hit in &hits {
        assert_eq!(
            hit["exception"]["root_type"],
            "java.lang.IllegalStateException"
        );
        assert_eq!(hit["id"].as_str().unwrap().len(), 16);
    }
    let out = common::stackfold(&[
        "search",
        "--data",
        &data,
        "--json",
        "IllegalState",
        "--from",
        "2024-03-02",
        "--app",
        "billing",
    ]);
    let hits = json_lines(&out);
    assert_eq!(hits.len(), 2);
    assert!(hits.iter().all(|h| h["meta"]["tag"] == "1.4.3"));
    let out = common::stackfold(&[
        "search", "--data", &data, "--json", "--level", "warn", "--limit", "1000", "*",
    ]);
    assert!(json_lines(&out).iter().all(|h| h["level"] == "WARN"));

    // Wildcards: a prefix over tokens of the body, a regex over keyword values.
    let r = reader(&data);
    let none = Filters::default();
    assert_eq!(
        r.count("Illeg*", &none).unwrap(),
        r.count("illegal", &none).unwrap()
    );
    assert!(r.count("Illeg*", &none).unwrap() >= 8);
    assert_eq!(
        r.count("logger:c.a.billing.web*", &none).unwrap(),
        r.count("logger:c.a.billing.web.OrderController", &none)
            .unwrap()
            + r.count("logger:c.a.billing.web.ExportController", &none)
                .unwrap()
    );
    assert!(r.count("logger:c.a.billing.web*", &none).unwrap() > 0);

    // The fold format plus id.
    let fold = common::stackfold(&[
        "fold",
        "--tz",
        "UTC",
        &format!(
            "{}/java/weberror_billing_pro_1.4.3_web02_20240302.log",
            common::fixtures().display()
        ),
    ]);
    let folded = json_lines(&fold);
    let out = common::stackfold(&[
        "search", "--data", &data, "--json", "--tag", "1.4.3", "--limit", "100", "*",
    ]);
    let mut indexed = json_lines(&out);
    indexed.reverse();
    assert_eq!(indexed.len(), folded.len());
    for (mut i, f) in indexed.into_iter().zip(folded) {
        // Every field, whether read from the docstore or from a fast column.
        let id = i.as_object_mut().unwrap().remove("id").unwrap();
        assert_eq!(id.as_str().map(str::len), Some(16));
        assert_eq!(i, f);
    }

    let out = common::stackfold(&["exceptions", "--data", &data, "--json"]);
    let groups: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let top = groups
        .iter()
        .find(|g| g["root_type"] == "java.lang.IllegalStateException")
        .unwrap();
    common::assert_most_frequent_first(&groups);
    for key in [
        "fingerprint",
        "count",
        "first_seen",
        "last_seen",
        "root_type",
        "template",
        "first_tag",
        "apps",
        "hosts",
        "tags",
    ] {
        assert!(top.get(key).is_some(), "missing {key}");
    }
    assert_eq!(top["count"], 8);
    assert_eq!(top["template"], "card <num> declined after <num> tries");
    assert_eq!(top["first_tag"], "1.4.2");
    assert_eq!(
        top["tags"],
        serde_json::json!([{"value": "1.4.2", "count": 6}, {"value": "1.4.3", "count": 2}])
    );
    assert_eq!(
        top["hosts"],
        serde_json::json!([{"value": "web01", "count": 6}, {"value": "web02", "count": 2}])
    );
    let total: u64 = groups.iter().map(|g| g["count"].as_u64().unwrap()).sum();
    assert_eq!(total, summary["exceptions"].as_u64().unwrap());

    let fp = top["fingerprint"].as_str().unwrap();
    let out = common::stackfold(&["show", "--data", &data, "--json", fp]);
    let detail: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(detail["count"], 8);
    assert_eq!(detail["samples"].as_array().unwrap().len(), 5);
    assert!(
        detail["explain"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == "type:java.lang.IllegalStateException")
    );
    let buckets: u64 = detail["histogram"]["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b[1].as_u64().unwrap())
        .sum();
    assert_eq!(buckets, 8);
    let text = common::stackfold(&["show", "--data", &data, fp]);
    assert!(String::from_utf8_lossy(&text.stdout).contains("PaymentClient"));
}

/// `NOT` excludes from what the rest of the query matches, alone or in a group, as in
/// Kibana: the UI's filter-out appends `AND NOT field:"value"` to the query.
#[test]
fn a_negation_excludes_from_what_the_rest_matches() {
    let tmp = tempfile::tempdir().unwrap();
    let data = data_arg(&tmp);
    index_fixtures(&data);
    let r = reader(&data);
    let count = |q: &str| r.count(q, &Filters::default()).unwrap();
    let (all, errors, failed) = (count(""), count("level:ERROR"), count("failed"));
    let failed_errors = count("failed AND level:ERROR");
    assert!(all > errors && errors > 0 && failed > failed_errors && failed_errors > 0);
    for q in ["NOT level:ERROR", "-level:ERROR", "(NOT level:ERROR)"] {
        assert_eq!(count(q), all - errors, "{q}");
    }
    for q in [
        "failed AND NOT level:ERROR",
        "failed -level:ERROR",
        "failed AND (NOT level:ERROR)",
        "NOT level:ERROR AND failed",
    ] {
        assert_eq!(count(q), failed - failed_errors, "{q}");
    }
    assert_eq!(
        count("failed AND NOT level:ERROR AND NOT level:WARN"),
        failed - failed_errors - count("failed AND level:WARN")
    );
    // A part without a word is left out, as tantivy's own reading does; alone it finds nothing.
    assert_eq!(count("failed AND !!!"), failed);
    assert_eq!(count("failed AND NOT !!!"), failed);
    assert_eq!(count("!!!"), 0);
}

/// The values an event takes from its file (app, env, tag, host, log type, date, source) are
/// indexed together as one value per file, and still queried, filtered and counted as fields
/// of their own: each query below finds exactly the events whose value says so, and a value
/// shared by several files (the same log plain, gzip and zstd) counts all their events.
#[test]
fn the_file_values_are_fields_of_their_own() {
    let tmp = tempfile::tempdir().unwrap();
    let data = data_arg(&tmp);
    index_fixtures(&data);
    let events = common::search_all(Path::new(&data));
    let r = reader(&data);
    let count = |q: &str| r.count(q, &Filters::default()).unwrap();
    let expected = |keep: &dyn Fn(&Value) -> bool| events.iter().filter(|e| keep(e)).count();
    let meta = |e: &Value, part: &str| e["meta"][part].as_str().map(str::to_owned);
    let is = |part: &'static str, value: &'static str| {
        move |e: &Value| meta(e, part).as_deref() == Some(value)
    };

    let billing = expected(&is("app", "billing"));
    let sources = |keep: &dyn Fn(&Value) -> bool| {
        let mut sources: Vec<&str> = events
            .iter()
            .filter(|e| keep(e))
            .map(|e| e["source"].as_str().unwrap())
            .collect();
        sources.sort();
        sources.dedup();
        sources.len()
    };
    assert!(
        sources(&is("app", "billing")) >= 3,
        "billing is in several files"
    );
    assert!(billing > 0 && billing < events.len());
    assert_eq!(count("app:billing"), billing);
    assert_eq!(count("app:bill*"), billing);
    assert_eq!(count("app:/bil+ing/"), billing);
    assert_eq!(count("app:/bil/"), 0, "a regex matches the whole value");
    assert_eq!(count("app: IN [billing nothing]"), billing);
    assert_eq!(count("-app:billing"), events.len() - billing);
    assert_eq!(count("app:Billing"), 0, "values are exact");
    assert_eq!(
        count("app:*"),
        expected(&|e: &Value| meta(e, "app").is_some())
    );
    assert_eq!(
        count("app:billing AND env:pro AND host:web02"),
        expected(&|e: &Value| is("app", "billing")(e)
            && is("env", "pro")(e)
            && is("host", "web02")(e))
    );
    assert_eq!(count("tag:1.4.3"), expected(&is("tag", "1.4.3")));
    assert_eq!(
        count("tag:[1.4.0 TO 1.4.2]"),
        expected(&is("tag", "1.4.2")),
        "a range over the values"
    );
    assert_eq!(count("logtype:worker"), expected(&is("logtype", "worker")));
    assert_eq!(
        count("date:2024-03-02"),
        expected(&is("date", "2024-03-02"))
    );
    let source = events[0]["source"].as_str().unwrap();
    assert_eq!(
        count(&format!("source:\"{source}\"")),
        expected(&|e: &Value| e["source"] == source)
    );
    let filtered = Filters {
        app: vec!["billing".into()],
        host: vec!["web01".into(), "job01".into()],
        ..Filters::default()
    };
    assert_eq!(
        r.count("", &filtered).unwrap(),
        expected(&|e: &Value| is("app", "billing")(e)
            && (is("host", "web01")(e) || is("host", "job01")(e)))
    );

    // The field sidebar adds up the files that share a value.
    let values = r.field_values("", &Filters::default(), 100).unwrap();
    for part in ["app", "env", "host", "tag", "logtype"] {
        let mut want: std::collections::BTreeMap<String, u64> = Default::default();
        for e in &events {
            if let Some(value) = meta(e, part) {
                *want.entry(value).or_default() += 1;
            }
        }
        let got: std::collections::BTreeMap<String, u64> = values[part]
            .iter()
            .map(|v| (v.value.clone(), v.count))
            .collect();
        assert_eq!(got, want, "{part}");
    }
}

#[test]
fn query_errors_are_clear() {
    let tmp = tempfile::tempdir().unwrap();
    let data = data_arg(&tmp);
    index(&data, &[&fixture_dirs()[2]]);
    let out = std::process::Command::new(common::binary())
        .args(["search", "--data", &data, "panic AND ("])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("query syntax") && stderr.contains("position"),
        "{stderr}"
    );
    let out = std::process::Command::new(common::binary())
        .args(["search", "--data", &data, "x", "--from", "yesterday"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let missing = tmp.path().join("nothing").display().to_string();
    let out = std::process::Command::new(common::binary())
        .args(["search", "--data", &missing, "x"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no index here"));
}

#[test]
fn indexing_twice_adds_nothing_and_grown_files_add_only_the_new_part() {
    let tmp = tempfile::tempdir().unwrap();
    let data = data_arg(&tmp);
    let logs = tmp.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    let name = "weberror_billing_pro_1.4.2_web01_20240301.log";
    let original = std::fs::read_to_string(common::fixtures().join("java").join(name)).unwrap();
    std::fs::write(logs.join(name), &original).unwrap();
    let logs_arg = logs.display().to_string();
    let same_file_again = format!("{logs_arg}/{name}");
    let first = index(&data, &[&logs_arg, &same_file_again]);
    assert_eq!(first["events"], 6, "a file named twice is read once");
    let second = index(&data, &[&logs_arg]);
    assert_eq!(second["events"], 0);
    assert_eq!(second["skipped_files"], 1);
    assert_eq!(reader(&data).count("", &Filters::default()).unwrap(), 6);

    let appended = "2024-03-01 11:00:00.000 INFO  [main] c.a.billing.BillingApplication - shutting down\n\
                    2024-03-01 11:00:01.000 ERROR [main] c.a.billing.Db - close failed\n\
                    java.lang.IllegalStateException: pool closed\n\
                    \tat com.acme.billing.Db.close(Db.java:12)\n";
    std::fs::write(logs.join(name), format!("{original}{appended}")).unwrap();
    let third = index(&data, &[&logs_arg]);
    assert_eq!(third["events"], 2, "only the appended events");
    let r = reader(&data);
    assert_eq!(r.count("", &Filters::default()).unwrap(), 8);
    assert_eq!(r.count("\"pool closed\"", &Filters::default()).unwrap(), 1);
    let hits = r.search("close", &Filters::default(), 10).unwrap();
    assert_eq!(
        hits[0].event.line, 48,
        "line numbers continue where the last run stopped"
    );
}

#[test]
fn prune_removes_old_events_and_groups_stay_exact() {
    let tmp = tempfile::tempdir().unwrap();
    let data = data_arg(&tmp);
    index_fixtures(&data);
    // A file of old events indexed on its own, more than the 1 MiB of text a commit
    // keeps in chunks (src/index/writer.rs):
    // its chunks hold only events to prune.
    let old = tmp.path().join("app_billing_prd_1.0_old01_20120301.log");
    let lines: String = (0..20_000)
        .map(|n| {
            let (h, m, s) = (n / 3600, n / 60 % 60, n % 60);
            format!(
                "2012-03-01 {h:02}:{m:02}:{s:02},000 INFO [main] c.a.B - old event {n} of many\n"
            )
        })
        .collect();
    std::fs::write(&old, lines).unwrap();
    index(&data, &[&old.display().to_string()]);
    // Fixtures span 2011 to 2024; cut between 2016 and 2024 whenever the test runs.
    let now = jiff::Timestamp::now();
    let cutoff_2020: jiff::Timestamp = "2020-06-01T00:00:00Z".parse().unwrap();
    let days = (now.as_second() - cutoff_2020.as_second()) / 86_400;
    let r = reader(&data);
    let all = r.count("", &Filters::default()).unwrap();
    let without_time = all
        - r.count(
            "",
            &Filters {
                from: Some(jiff::Timestamp::MIN),
                ..Filters::default()
            },
        )
        .unwrap();
    let cutoff = now
        .checked_sub(jiff::SignedDuration::from_hours(24 * days))
        .unwrap();
    let recent = Filters {
        from: Some(cutoff),
        ..Filters::default()
    };
    let keep = r.count("", &recent).unwrap();
    let groups_recent = r.groups("", &recent).unwrap();
    // Words of frame lines (found through frame blocks, see src/index/blocks.rs), asked
    // before the prune too, so what the reader keeps per segment is kept across it.
    let frame_words = ["runWorker", "\"PaymentClient.charge\"", "Handler.handle"];
    let frames_recent: Vec<usize> = frame_words
        .iter()
        .map(|w| {
            assert!(r.count(w, &Filters::default()).unwrap() > 0, "{w}");
            r.count(w, &recent).unwrap()
        })
        .collect();
    assert!(
        keep > 0 && keep + without_time < all,
        "the cut leaves some and drops some"
    );
    let texts = |filters: &Filters| -> Vec<String> {
        let hits = r.search("", filters, 10_000).unwrap();
        hits.into_iter()
            .map(|e| e.event.text.into_owned())
            .collect()
    };
    let texts_recent = texts(&recent);
    let chunks = || {
        let texts = stackfold::index::texts::TextStore::open(Path::new(&data));
        let texts = texts.unwrap().expect("the events' texts are in DIR/texts");
        texts.index().reader().unwrap().searcher().num_docs()
    };
    let chunks_before = chunks();
    common::stackfold(&[
        "prune",
        "--data",
        &data,
        "--older-than",
        &format!("{days}d"),
    ]);
    r.reload().unwrap();
    assert_eq!(
        r.count("", &Filters::default()).unwrap(),
        keep + without_time
    );
    let timed = Filters {
        from: Some(jiff::Timestamp::MIN),
        ..Filters::default()
    };
    let counts = |groups: Vec<stackfold::query::GroupSummary>| -> Vec<(String, u64)> {
        groups
            .into_iter()
            .map(|g| (g.fingerprint, g.count))
            .collect()
    };
    assert_eq!(counts(r.groups("", &timed).unwrap()), counts(groups_recent));
    let frames_left: Vec<usize> = frame_words
        .iter()
        .map(|w| r.count(w, &timed).unwrap())
        .collect();
    assert_eq!(frames_left, frames_recent, "{frame_words:?}");
    // The kept events read as before; the chunks of text only pruned events named are gone.
    assert_eq!(texts(&timed), texts_recent);
    assert!(chunks() < chunks_before, "{} chunks", chunks());
}

#[test]
fn generated_corpus_groups_are_exact() {
    let tmp = tempfile::tempdir().unwrap();
    let data = data_arg(&tmp);
    let logs = tmp.path().join("logs");
    let manifest = common::generate(&logs, 3, &["--days", "3"]);
    let summary = index(&data, &[&logs.display().to_string()]);
    assert_eq!(summary["events"], manifest["events"]);
    assert_exact_groups(&data, &manifest);
}

/// The index holds exactly the generator's events and groups.
fn assert_exact_groups(data: &str, manifest: &Value) {
    let r = reader(data);
    assert_eq!(
        r.count("", &Filters::default()).unwrap() as u64,
        manifest["events"].as_u64().unwrap()
    );
    let groups = r.groups("", &Filters::default()).unwrap();
    let mut got: Vec<(String, u64)> = groups
        .iter()
        .map(|g| (g.apps[0].value.clone(), g.count))
        .collect();
    let mut want: Vec<(String, u64)> = manifest["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["app"].as_str().unwrap().to_owned(),
                g["count"].as_u64().unwrap(),
            )
        })
        .collect();
    got.sort();
    want.sort();
    assert_eq!(got, want);
    common::assert_frames_find_their_events(Path::new(data));
}

#[test]
fn killed_mid_run_then_rerun_indexes_every_event_once() {
    let tmp = tempfile::tempdir().unwrap();
    let data = data_arg(&tmp);
    let logs = tmp.path().join("logs");
    let manifest = common::generate(&logs, 12, &["--days", "4", "--compress", "mixed"]);
    let logs_arg = logs.display().to_string();
    let args = [
        "index",
        "--data",
        &data,
        "--tz",
        "UTC",
        "--commit-mb",
        "1",
        "--threads",
        "2",
        &logs_arg,
    ];
    let mut kills = 0;
    for delay_ms in [150, 400, 700, 1000, 1500] {
        let mut child = std::process::Command::new(common::binary())
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            kills += 1;
        }
        child.wait().unwrap();
    }
    assert!(
        kills >= 2,
        "the index runs must be killed mid-way ({kills} were)"
    );
    common::stackfold(&args);
    assert_exact_groups(&data, &manifest);
}

/// `search --all` (and `--limit 0`) exports every match, past the 10,000 of one page, each
/// once and newest first; `exceptions --all` lists every group.
#[test]
fn search_all_exports_every_match_once() {
    let tmp = tempfile::tempdir().unwrap();
    let logs = tmp.path().join("logs");
    common::generate(&logs, 4, &[]);
    let data = data_arg(&tmp);
    let summary = index(&data, &[&logs.display().to_string()]);
    let events = summary["events"].as_u64().unwrap() as usize;
    assert!(
        events > 10_000,
        "the corpus spans more than one page: {events}"
    );

    let out = common::stackfold(&["search", "--data", &data, "--json", "--all", "*"]);
    let hits = json_lines(&out);
    assert_eq!(hits.len(), events);
    let ids: std::collections::HashSet<&str> =
        hits.iter().map(|h| h["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), events, "every event once");
    let times: Vec<Option<jiff::Timestamp>> = hits
        .iter()
        .map(|h| h["ts"].as_str().map(|t| t.parse().unwrap()))
        .collect();
    assert!(
        times.windows(2).all(|w| w[1].is_none() || w[0] >= w[1]),
        "newest first, events without time last"
    );

    let zero = common::stackfold(&["search", "--data", &data, "--limit", "0", "*"]);
    assert_eq!(
        String::from_utf8_lossy(&zero.stdout).lines().count(),
        events
    );
    let some = common::stackfold(&["search", "--data", &data, "--limit", "10500", "*"]);
    assert_eq!(
        String::from_utf8_lossy(&some.stdout).lines().count(),
        10_500
    );

    let groups = reader(&data).groups("", &Filters::default()).unwrap().len();
    for flag in ["--all", "--limit=0"] {
        let out = common::stackfold(&["exceptions", "--data", &data, "--json", flag]);
        let listed: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(listed.len(), groups, "{flag}");
    }
}

/// Issue 14: a change of grouping rules re-groups what is indexed from the stored text,
/// without the files: every event keeps its id, only the events the rule matches move, and
/// with no change of rules nothing moves (each stored text gives back its exception).
#[test]
fn regroup_applies_new_rules_to_indexed_events_without_the_files() {
    let tmp = tempfile::tempdir().unwrap();
    let data = data_arg(&tmp);
    let fixtures = common::fixtures().display().to_string();
    let logs = tmp.path().join("logs");
    let copied = std::process::Command::new("cp")
        .args(["-r", &fixtures])
        .arg(&logs)
        .status()
        .unwrap();
    assert!(copied.success());
    index(&data, &[logs.to_str().unwrap()]);
    std::fs::remove_dir_all(&logs).unwrap();
    let regroup = |extra: &[&str]| -> Value {
        let mut args = vec!["regroup", "--data", &data, "--tz", "UTC", "--json"];
        args.extend_from_slice(extra);
        serde_json::from_slice(&common::stackfold(&args).stdout).unwrap()
    };
    let ids = || -> Vec<String> {
        let out = common::stackfold(&["search", "--data", &data, "--all", "--json", ""]);
        let mut ids: Vec<String> = json_lines(&out)
            .iter()
            .map(|e| e["id"].as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        ids
    };
    let groups = || -> Vec<Value> {
        let out = common::stackfold(&["exceptions", "--data", &data, "--json"]);
        serde_json::from_slice(&out.stdout).unwrap()
    };

    let same = regroup(&["--dry-run"]);
    assert!(same["events"].as_u64().unwrap() > 1000);
    assert_eq!(same["changed"], 0, "{same}");

    let before_ids = ids();
    let before = groups();
    let io: u64 = before
        .iter()
        .filter(|g| g["root_type"].as_str().unwrap().starts_with("java.io."))
        .map(|g| g["count"].as_u64().unwrap())
        .sum();
    let io_groups = before
        .iter()
        .filter(|g| g["root_type"].as_str().unwrap().starts_with("java.io."))
        .count();
    assert!(io_groups > 1, "the fixtures hold several java.io groups");
    let config = tmp.path().join("rules.toml");
    std::fs::write(
        &config,
        "[[grouping.rules]]\ntype = \"java.io.*\"\nfingerprint = [\"io\"]\n",
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let dry = regroup(&["--config", config, "--dry-run"]);
    assert_eq!(dry["changed"].as_u64(), Some(io));
    assert_eq!(groups(), before, "a dry run changes nothing");

    let done = regroup(&["--config", config]);
    assert_eq!(done, dry);
    let after = groups();
    let io_group: Vec<&Value> = after
        .iter()
        .filter(|g| g["root_type"].as_str().unwrap().starts_with("java.io."))
        .collect();
    assert_eq!(io_group.len(), 1, "{io_group:?}");
    assert_eq!(io_group[0]["count"].as_u64(), Some(io));
    assert_eq!(after.len(), before.len() - io_groups + 1);
    let show = common::stackfold(&[
        "show",
        "--data",
        &data,
        "--json",
        io_group[0]["fingerprint"].as_str().unwrap(),
    ]);
    let show: Value = serde_json::from_slice(&show.stdout).unwrap();
    assert_eq!(show["explain"], serde_json::json!(["rule:1", "value:io"]));
    assert_eq!(ids(), before_ids, "every event kept, under its id");
    assert_eq!(regroup(&["--config", config])["changed"], 0);
}

/// An event read back from the index is the event as folded: every field of `stackfold
/// fold`'s NDJSON (time, header names, message, text, exception, pattern, file metadata)
/// comes back the same, from whichever of the docstore and the columns keeps it. With the
/// standard grouping, exceptions are found again in the text rather than stored; with rules
/// of one's own, they are stored.
#[test]
fn every_fixture_event_reads_back_as_folded() {
    let standard = reads_back_as_folded(&common::settings());
    assert!(standard.exceptions > 50, "{standard:?}");
    assert_eq!(standard.stored_exceptions, 0, "{standard:?}");

    let own = stackfold::config::ConfigFile::parse("[grouping]\nin_app_include = [\"com.acme\"]\n")
        .unwrap()
        .settings(Some("UTC"), 1, 2020)
        .unwrap();
    let own = reads_back_as_folded(&own);
    assert_eq!(own.exceptions, standard.exceptions);
    assert_eq!(own.stored_exceptions, own.exceptions, "{own:?}");

    // Events cut at a cap read back cut, and their rest as a continuation, whatever the
    // others in their segment.
    assert_eq!(standard.cut, 0);
    let capped = stackfold::config::ConfigFile::parse("[fold]\nmax_event_lines = 4\n")
        .unwrap()
        .settings(Some("UTC"), 1, 2020)
        .unwrap();
    let capped = reads_back_as_folded(&capped);
    assert!(capped.cut > 100, "{capped:?}");
}

#[derive(Debug)]
struct ReadBack {
    /// Events folded with an exception.
    exceptions: usize,
    /// Documents that store one.
    stored_exceptions: usize,
    /// Events cut at a cap, or continuing one that was.
    cut: usize,
}

/// Indexes every fixture with `settings` and checks that each event reads back as folded.
fn reads_back_as_folded(settings: &stackfold::pipeline::PipelineSettings) -> ReadBack {
    use stackfold::index::document::{event_id, format_id};
    use stackfold::index::{EventWriter, file_key};

    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let (index, fields) = stackfold::index::open_or_create(&data).unwrap();
    let mut writer = EventWriter::open(&index, fields.clone(), 64 << 20, 1).unwrap();
    let mut folded = Vec::new();
    for dir in ["java", "python", "go", "rust", "runtimes"] {
        let mut files: Vec<_> = std::fs::read_dir(common::fixtures().join(dir))
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .collect();
        files.sort();
        for path in files {
            let (events, _) = stackfold::pipeline::collect_file(path.clone(), settings);
            let key = file_key(&path);
            for event in events {
                writer.add(&key, event.clone()).unwrap();
                folded.push((key.clone(), event));
            }
        }
    }
    writer.commit().unwrap();
    let reader = Reader::open(&data).unwrap();
    assert!(folded.len() > 500, "{} events", folded.len());
    let with_names = folded
        .iter()
        .filter(|(_, e)| e.logger.is_some() || e.thread.is_some())
        .count();
    assert!(
        with_names > 100,
        "{with_names} events name a logger or thread"
    );
    // Twice: the second time, exceptions found again come from the reader's memory of them.
    for (key, event) in folded.iter().chain(&folded) {
        let id = format_id(event_id(key, event.offset));
        let shown = reader.event(&id).unwrap().expect("every event is found");
        assert_eq!(
            serde_json::to_value(&shown.event).unwrap(),
            serde_json::to_value(event.record()).unwrap(),
            "{key}: {}",
            event.text
        );
    }
    let searcher = index.reader().unwrap().searcher();
    let mut stored_exceptions = 0;
    for (ord, segment) in searcher.segment_readers().iter().enumerate() {
        for doc in 0..segment.max_doc() {
            let address = tantivy::DocAddress::new(ord as u32, doc);
            let doc: tantivy::TantivyDocument = searcher.doc(address).unwrap();
            stored_exceptions += usize::from(doc.get_first(fields.exception).is_some());
        }
    }
    ReadBack {
        exceptions: folded.iter().filter(|(_, e)| e.exception.is_some()).count(),
        stored_exceptions,
        cut: folded
            .iter()
            .filter(|(_, e)| e.truncated || e.continued)
            .count(),
    }
}

/// `stackfold index` ends once the merges its commits started are done: the index directory
/// then holds the files of the committed segments and nothing else, and the size it reports
/// is theirs (merges left running were abandoned at exit, their half-written segments counted
/// in the size until the next writer removed them).
#[test]
fn index_leaves_only_the_committed_segments_on_disk() {
    let tmp = tempfile::tempdir().unwrap();
    let data = data_arg(&tmp);
    let logs = tmp.path().join("logs");
    common::generate(&logs, 24, &["--days", "2"]);
    let logs = logs.display().to_string();
    let out = common::stackfold(&[
        "index",
        "--data",
        &data,
        "--tz",
        "UTC",
        "--json",
        "--commit-mb",
        "1",
        &logs,
    ]);
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    let dir = Path::new(&data).join("index");
    let meta: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("meta.json")).unwrap()).unwrap();
    let segments: Vec<String> = meta["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["segment_id"].as_str().unwrap().replace('-', ""))
        .collect();
    let mut bytes = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        bytes += entry.metadata().unwrap().len();
        if name == "meta.json" || name.starts_with('.') {
            continue;
        }
        let segment = name.split('.').next().unwrap();
        assert!(
            segments.iter().any(|s| s == segment),
            "{name} belongs to no committed segment ({} segments)",
            segments.len()
        );
    }
    assert_eq!(summary["index_bytes"].as_u64(), Some(bytes));
}
