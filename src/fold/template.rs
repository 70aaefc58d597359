//! Message parameterisation (docs/grouping.md §3): variable parts of a message become typed
//! placeholders, so that `user 42 not found` and `user 7 not found` read as one template.

use std::sync::LazyLock;

use regex_automata::meta::Regex;

/// The kinds of variable part, in the order docs/grouping.md lists them: at each position the
/// first kind that matches wins (a UUID is never read as five hex runs, nor an IP as four
/// numbers), as in one regex of alternatives tried left to right.
const KINDS: [&str; 9] = [
    "email", "url", "ip", "uuid", "hex", "date", "duration", "num", "str",
];

/// One regex of many patterns, one per kind of [`KINDS`], in that order: a match names the
/// pattern that made it, so the kind is known without resolving capture groups (which ran a
/// backtracker on every match, a tenth of folding on messages whose numbers change each time;
/// issue 17).
static PARAMS: LazyLock<Regex> = LazyLock::new(|| params(true));

/// [`PARAMS`] with ASCII classes and word boundaries, which finds the same in an ASCII
/// message (where `\w`, `\d` and `\b` mean the same either way) without looking up
/// Unicode tables at every `\b`.
static ASCII_PARAMS: LazyLock<Regex> = LazyLock::new(|| params(false));

/// The pattern of each kind of [`KINDS`].
fn patterns() -> [String; 9] {
    let ipv4 = r"\b(?:\d{1,3}\.){3}\d{1,3}(?::\d{1,5})?\b";
    let ipv6 = r"\[?\b(?:[0-9a-fA-F]{1,4}:){7}[0-9a-fA-F]{1,4}\b(?:\]:\d{1,5})?|\[?\b(?:[0-9a-fA-F]{1,4}:){1,6}:(?:[0-9a-fA-F]{1,4}(?::[0-9a-fA-F]{1,4})*)?\b(?:\]:\d{1,5})?";
    [
        r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+".to_owned(),
        r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s\x22'<>)\]]+".to_owned(),
        format!("{ipv4}|{ipv6}"),
        r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b".to_owned(),
        r"\b0[xX][0-9a-fA-F]+\b|\b[0-9a-fA-F]{8,}\b".to_owned(),
        concat!(
            r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?",
            r"|\b(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{1,2} (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2}(?: [+-]\d{4}| GMT| UTC)?",
            r"|\b\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?\b"
        )
        .to_owned(),
        r"\b\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h|min|sec|secs|seconds)\b".to_owned(),
        r"\b\d+(?:[.,]\d+)*\b".to_owned(),
        r#"=\s*"[^"]*"|=\s*'[^']*'"#.to_owned(),
    ]
}

fn params(unicode: bool) -> Regex {
    let patterns = patterns().map(|pattern| {
        if unicode {
            pattern
        } else {
            // `\w` is only ever inside a class here.
            pattern
                .replace(r"\b", r"(?-u:\b)")
                .replace(r"\d", "[0-9]")
                .replace(r"\w", "0-9A-Za-z_")
        }
    });
    Regex::new_many(&patterns).expect("the parameter patterns are valid")
}

/// Longest template kept; the rest of a huge message says nothing about which problem it is.
const MAX_TEMPLATE_CHARS: usize = 512;

/// `message` with its variable parts replaced by `<email>`, `<url>`, `<ip>`, `<uuid>`, `<hex>`,
/// `<date>`, `<duration>`, `<num>` and `="<str>"`-style placeholders.
///
/// Remembered per thread for recent messages: the same exception is logged again and again.
pub fn parameterize(message: &str) -> String {
    std::thread_local! {
        static RECENT: std::cell::RefCell<super::recent::Recent<String>> =
            const { std::cell::RefCell::new(super::recent::Recent::new()) };
    }
    RECENT.with_borrow_mut(|recent| recent.get(message, computed))
}

fn computed(message: &str) -> String {
    let cut = match message.char_indices().nth(MAX_TEMPLATE_CHARS) {
        Some((idx, _)) => &message[..idx],
        None => message,
    };
    let cut = cut.trim();
    let params = if cut.is_ascii() {
        &ASCII_PARAMS
    } else {
        &PARAMS
    };
    replace_all(params, cut)
}

/// `text` with each match of `params` replaced by its placeholder.
fn replace_all(params: &Regex, text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for found in params.find_iter(text) {
        out.push_str(&text[last..found.start()]);
        push_placeholder(
            &mut out,
            KINDS[found.pattern().as_usize()],
            &text[found.range()],
        );
        last = found.end();
    }
    out.push_str(&text[last..]);
    out
}

fn push_placeholder(out: &mut String, kind: &str, text: &str) {
    match kind {
        "hex" if !text.bytes().any(|b| b.is_ascii_digit()) => out.push_str(text),
        "hex" if text.bytes().all(|b| b.is_ascii_digit()) => out.push_str("<num>"),
        "str" => out.push_str("=<str>"),
        kind => {
            out.push('<');
            out.push_str(kind);
            out.push('>');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{
        ASCII_PARAMS, KINDS, PARAMS, parameterize, patterns, push_placeholder, replace_all,
    };

    /// Every line of the fixtures (the real logs, .NET, Ruby, PHP and Rust among them) and
    /// the edge cases of word boundaries, classes and of one kind inside another.
    fn lines() -> Vec<String> {
        let mut lines: Vec<String> = [
            "a_1 1_a 12ab ab12 _7_ x=1,2.3 10.0.0.1:80 [fe80::1:2]:443 0x1F 1e10",
            "id=\"a b\" mail a.b+c@d-e.fg took 3ms/4s at 12:00:01.5 on 2024-03-01 10:00",
            "deadbeef01 cafe1234 3f2b6c1e-8d4a-4b7e-9c1d-2a3b4c5d6e7f http://x/y?z=1",
            "1.2.3.4.5 2024-03-01T10:00:00Z 12:00:01s 10s1 a@b.c://d 0x1g 123456789abc",
            "übel 42 straße 7ms café 10.0.0.1 µs 5µs ü12 x=\"é\"",
        ]
        .map(str::to_owned)
        .to_vec();
        let mut dirs = vec![std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else if let Ok(text) = std::fs::read_to_string(&path) {
                    lines.extend(text.lines().map(str::to_owned));
                }
            }
        }
        assert!(lines.len() > 10_000, "{} lines", lines.len());
        lines
    }

    /// The patterns tried as one regex of alternatives, each a named group, the kind of a
    /// match the group that took part in it: the definition of "the first kind that matches
    /// at each position wins" that the many-pattern regex must give.
    fn by_alternatives(line: &str) -> String {
        static ALTERNATIVES: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
            let groups: Vec<String> = KINDS
                .iter()
                .zip(patterns())
                .map(|(kind, pattern)| format!("(?P<{kind}>{pattern})"))
                .collect();
            regex::Regex::new(&groups.join("|")).unwrap()
        });
        ALTERNATIVES
            .replace_all(line, |caps: &regex::Captures<'_>| {
                let kind = KINDS.iter().find(|k| caps.name(k).is_some()).unwrap();
                let mut out = String::new();
                push_placeholder(&mut out, kind, &caps[0]);
                out
            })
            .into_owned()
    }

    #[test]
    fn each_match_is_of_the_first_kind_that_matches_there() {
        for line in lines() {
            assert_eq!(
                replace_all(&PARAMS, &line),
                by_alternatives(&line),
                "{line:?}"
            );
        }
    }

    /// The ASCII twin of the regex makes the same template of every ASCII line.
    #[test]
    fn the_ascii_regex_reads_ascii_messages_as_the_unicode_one() {
        let lines = lines();
        let ascii: Vec<&String> = lines.iter().filter(|l| l.is_ascii()).collect();
        assert!(ascii.len() > 10_000, "{} lines", ascii.len());
        for line in ascii {
            assert_eq!(
                replace_all(&ASCII_PARAMS, line),
                replace_all(&PARAMS, line),
                "{line:?}"
            );
        }
    }

    #[track_caller]
    fn t(message: &str, template: &str) {
        assert_eq!(parameterize(message), template, "{message:?}");
    }

    #[test]
    fn placeholders_in_order() {
        t("user bob@example.com not found", "user <email> not found");
        t(
            "GET https://api.example.com/v1/orders?id=7 failed",
            "GET <url> failed",
        );
        t(
            "connect to 10.0.0.12:5432 refused",
            "connect to <ip> refused",
        );
        t("peer [fe80::1:2]:443 gone", "peer <ip> gone");
        t("id 1234567890 and 20150819", "id <num> and <num>");
        t(
            "order 3f2b6c1e-8d4a-4b7e-9c1d-2a3b4c5d6e7f missing",
            "order <uuid> missing",
        );
        t(
            "object at 0x7f3a2c1b0e10 and deadbeef01",
            "object at <hex> and <hex>",
        );
        t("cafebabe is a word-ish run", "cafebabe is a word-ish run");
        t(
            "expired at 2024-03-01T10:00:00Z, now 12:00:01",
            "expired at <date>, now <date>",
        );
        t("took 1500ms, then 1.5s", "took <duration>, then <duration>");
        t("retry 3 of 10 (0.25)", "retry <num> of <num> (<num>)");
        t(
            "bad value name=\"foo bar\" in query",
            "bad value name=<str> in query",
        );
        t("user123 stays", "user123 stays");
        t(
            "Failed to elect leader for partition test-0 under strategy",
            "Failed to elect leader for partition test-<num> under strategy",
        );
    }
}
