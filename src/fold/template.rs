//! Message parameterisation (docs/grouping.md §3): variable parts of a message become typed
//! placeholders, so that `user 42 not found` and `user 7 not found` read as one template.

use std::sync::LazyLock;

use regex::{Captures, Regex};

/// One regex whose alternatives are tried left to right at each position, which gives the
/// order docs/grouping.md lists: e-mail, URL, IP, UUID, hex, date/time, duration, number, and
/// quoted strings after `=` (a UUID is never read as five hex runs, nor an IP as four numbers).
static PARAMS: LazyLock<Regex> = LazyLock::new(|| {
    let email = r"(?P<email>[\w.+-]+@[\w-]+(?:\.[\w-]+)+)";
    let url = r"(?P<url>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s\x22'<>)\]]+)";
    let ipv4 = r"\b(?:\d{1,3}\.){3}\d{1,3}(?::\d{1,5})?\b";
    let ipv6 = r"\[?\b(?:[0-9a-fA-F]{1,4}:){7}[0-9a-fA-F]{1,4}\b(?:\]:\d{1,5})?|\[?\b(?:[0-9a-fA-F]{1,4}:){1,6}:(?:[0-9a-fA-F]{1,4}(?::[0-9a-fA-F]{1,4})*)?\b(?:\]:\d{1,5})?";
    let uuid = r"(?P<uuid>\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b)";
    let hex = r"(?P<hex>\b0[xX][0-9a-fA-F]+\b|\b[0-9a-fA-F]{8,}\b)";
    let date = concat!(
        r"(?P<date>\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?",
        r"|\b(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{1,2} (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2}(?: [+-]\d{4}| GMT| UTC)?",
        r"|\b\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?\b)"
    );
    let duration = r"(?P<duration>\b\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h|min|sec|secs|seconds)\b)";
    let number = r"(?P<num>\b\d+(?:[.,]\d+)*\b)";
    let quoted = r#"(?P<str>=\s*"[^"]*"|=\s*'[^']*')"#;
    let all = [
        email,
        url,
        &format!("(?P<ip>{ipv4}|{ipv6})"),
        uuid,
        hex,
        date,
        duration,
        number,
        quoted,
    ]
    .join("|");
    Regex::new(&all).expect("the parameter regex is valid")
});

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
    PARAMS.replace_all(cut.trim(), placeholder).into_owned()
}

fn placeholder(caps: &Captures<'_>) -> String {
    const KINDS: [&str; 9] = [
        "email", "url", "ip", "uuid", "hex", "date", "duration", "num", "str",
    ];
    let kind = KINDS
        .iter()
        .find(|k| caps.name(k).is_some())
        .copied()
        .unwrap_or("num");
    let text = &caps[0];
    match kind {
        "hex" if !text.bytes().any(|b| b.is_ascii_digit()) => text.to_owned(),
        "hex" if text.bytes().all(|b| b.is_ascii_digit()) => "<num>".to_owned(),
        "str" => "=<str>".to_owned(),
        kind => format!("<{kind}>"),
    }
}

#[cfg(test)]
mod tests {
    use super::parameterize;

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
