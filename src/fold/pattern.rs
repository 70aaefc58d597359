//! Patterns of the events without a trace (docs/grouping.md §7): the message with its
//! variable parts replaced by placeholders, and an id hashed from that template alone.
//!
//! The template is a function of the message only: no clustering, no state, nothing learnt
//! from the lines seen before, so the same kind of line gets the same id in every file, run,
//! process and order (`fold`, `index`, `tail` and the network inputs agree), and memory does
//! not grow with the number of distinct lines. The price is that a variable part written
//! without a digit (a user name, a host name) stays in the template.
//!
//! Tokens are the message's runs between blanks and `|`; each is masked on its own:
//!
//! | token | becomes |
//! |---|---|
//! | IPv4 address (a list of them too: `10.0.0.1,10.0.0.2`) | `<ip>` |
//! | UUID | `<uuid>` |
//! | `0x…`, or 8+ hex digits with a letter or a leading zero | `<hex>` |
//! | a number (signs, `.`, `,`, `:` inside) | `<num>` |
//! | a path (`/a/b`, `C:\a`); without a digit, one starting with `/` | `<path>` |
//! | a token whose alphanumeric runs mostly hold digits | `<*>` |
//! | another token with digits | its runs holding digits as `<num>` (`blk_-42` → `blk_<num>`) |
//!
//! Punctuation around a token (`(`, `[`, `"`, `,` ...) and a `key:` prefix stay and the rest
//! is masked; an endpoint, `host.name:port` or `10.0.0.1:port`, is `<*>:<num>` (a service
//! is reached by name on one line and by address on the next). Without a digit, the value of a `key=value`
//! token, the word after `user` and month and weekday names in a date are `<*>` too, so
//! `user=alice,` reads `user=<*>,`. Templates are cut after
//! [`MAX_TEMPLATE_CHARS`] characters: a long line is grouped on its first part, never dropped.

use crate::event::Pattern;

/// Longest message part a template is made from.
pub const MAX_TEMPLATE_CHARS: usize = 512;

/// The part of an event's message its pattern is made from: all of it, unless the event's
/// header was not recognised (`format` is `none`) and the line opens with a prefix of its
/// own before the message: a syslog header after other fields (`- 1131566461 2005.11.09
/// dn228 Nov 9 12:01:01 dn228/dn228 crond[2915]: `), or a bracketed time and a program
/// (`[10.30 16:49:06] chrome.exe *64 - `), or the fields of an HPC cluster's event log
/// (`134681 node-246 unix.hw state_change.unavailable 1077804742 1 `: id, node, component,
/// state, Unix time, flag), or of a Blue Gene/L RAS log (`- 1117838570 2005.06.03 R02-M1-N0
/// 2005-06-03-15.42.50.675872 R02-M1-N0 RAS KERNEL INFO `: alert, Unix time, date, node,
/// time, node, type, component, severity). Hosts, programs, components and severities in
/// such prefixes vary without digits, and would split the pattern of one kind of line.
pub fn groupable<'a>(message: &'a str, format: &str) -> &'a str {
    use std::sync::LazyLock;
    static PREFIXES: LazyLock<[regex::Regex; 4]> = LazyLock::new(|| {
        [
            r"^.{0,80}?\b(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) +\d{1,2} \d{2}:\d{2}:\d{2} \S+ [^\s:\[]+(?:\[\d+\])?: ",
            r"^\[[^\]]{0,40}\d{1,2}:\d{2}:\d{2}[^\]]{0,20}\] +\S+(?: +\*\d+)? +- +",
            r"^\d+ \S+ \S+ \S+ \d{9,10} -?\d+ ",
            r"^\S+ \d{9,10} \d{4}\.\d{2}\.\d{2} \S+ \d{4}-\d{2}-\d{2}-\d{2}\.\d{2}\.\d{2}\.\d+ \S+ [A-Z]+ [A-Z]+ [A-Z]+ ",
        ]
        .map(|re| regex::Regex::new(re).expect("valid prefixes"))
    });
    if format != "none" {
        return message;
    }
    PREFIXES
        .iter()
        .find_map(|re| re.find(message))
        .map_or(message, |prefix| &message[prefix.end()..])
}

/// The pattern of `message`.
pub fn pattern(message: &str) -> Pattern {
    of_template(template(message), false)
}

std::thread_local! {
    static RECENT: std::cell::RefCell<super::recent::Recent<Pattern>> =
        const { std::cell::RefCell::new(super::recent::Recent::new()) };
}

/// [`pattern`], remembered per thread (docs/grouping.md §7): services log the same line over
/// and over, and over the trace-less events of real logs more than half repeat a message
/// seen shortly before. The pattern is the one [`pattern`] gives; only the time differs.
pub fn recent_pattern(message: &str) -> Pattern {
    RECENT.with_borrow_mut(|recent| recent.get(message, pattern))
}

fn of_template(template: String, custom: bool) -> Pattern {
    let id = hex16(xxhash_rust::xxh3::xxh3_64(template.as_bytes()));
    Pattern {
        id,
        template,
        custom,
    }
}

/// `[patterns]` as written: masks of one's own and pinned templates.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatternsConfig {
    /// Applied to the message first, in order: each match becomes `<name>`.
    #[serde(default)]
    pub masks: Vec<MaskConfig>,
    /// Templates with `<*>` (or any `<name>`) for the variable parts: a message they match
    /// whole has that template, whatever the rules would make of it.
    #[serde(default)]
    pub pinned: Vec<String>,
}

/// One mask: `{ name = "order", regex = "ORD-[0-9A-Z]+" }`.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaskConfig {
    pub name: String,
    pub regex: String,
}

/// The pattern rules of a config: [`pattern`] unless masks or pinned templates apply.
#[derive(Debug, Clone, Default)]
pub struct PatternRules {
    masks: Vec<(regex::Regex, String)>,
    pinned: Option<regex::RegexSet>,
    templates: Vec<String>,
}

impl PatternRules {
    /// Validates `config`; the error names the mask or template and why.
    pub fn new(config: &PatternsConfig) -> Result<PatternRules, String> {
        let masks = config
            .masks
            .iter()
            .map(|m| {
                let named = !m.name.is_empty()
                    && m.name
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
                if !named {
                    return Err(format!(
                        "[patterns] mask {:?}: a name is lowercase letters, digits and _",
                        m.name
                    ));
                }
                let regex = regex::Regex::new(&m.regex)
                    .map_err(|e| format!("[patterns] mask {:?}: {e}", m.name))?;
                Ok((regex, format!("<{}>", m.name)))
            })
            .collect::<Result<_, String>>()?;
        let placeholder = regex::Regex::new(r"<[a-z0-9_*]+>").expect("a valid regex");
        let as_regex = |template: &str| {
            let mut out = String::from("^");
            let mut last = 0;
            for m in placeholder.find_iter(template) {
                out.push_str(&literal(&template[last..m.start()]));
                out.push_str(".+?");
                last = m.end();
            }
            out.push_str(&literal(&template[last..]));
            out.push('$');
            out
        };
        // Blanks match any run of blanks, as they do in templates.
        fn literal(text: &str) -> String {
            let mut out = String::new();
            let mut blank = false;
            for c in text.chars() {
                if c.is_ascii_whitespace() {
                    if !blank {
                        out.push_str(r"\s+");
                    }
                    blank = true;
                } else {
                    blank = false;
                    out.push_str(&regex::escape(c.encode_utf8(&mut [0; 4])));
                }
            }
            out
        }
        for t in &config.pinned {
            if t.trim().is_empty() {
                return Err("[patterns] pinned: an empty template".into());
            }
        }
        let pinned = match config.pinned.is_empty() {
            true => None,
            false => Some(
                regex::RegexSet::new(config.pinned.iter().map(|t| as_regex(t.trim())))
                    .map_err(|e| format!("[patterns] pinned: {e}"))?,
            ),
        };
        Ok(PatternRules {
            masks,
            pinned,
            templates: config.pinned.iter().map(|t| t.trim().to_owned()).collect(),
        })
    }

    /// The pattern of `message` under these rules: the first pinned template that matches
    /// the message (after the masks) whole, else the template of the masked message.
    pub fn pattern(&self, message: &str) -> Pattern {
        if self.masks.is_empty() && self.pinned.is_none() {
            return recent_pattern(message);
        }
        let mut masked = std::borrow::Cow::Borrowed(message);
        for (regex, placeholder) in &self.masks {
            if let std::borrow::Cow::Owned(text) = regex.replace_all(&masked, placeholder.as_str())
            {
                masked = std::borrow::Cow::Owned(text);
            }
        }
        let pinned = self
            .pinned
            .as_ref()
            .and_then(|set| set.matches(masked.trim()).into_iter().next());
        match pinned {
            Some(i) => of_template(self.templates[i].clone(), true),
            None => {
                let custom = matches!(masked, std::borrow::Cow::Owned(_));
                of_template(template(&masked), custom)
            }
        }
    }
}

/// `n` as 16 lowercase hex digits (what `format!("{n:016x}")` writes, without the
/// formatting machinery: a tenth of the pattern's time went there).
fn hex16(n: u64) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut hex = [0u8; 16];
    for (i, digit) in hex.iter_mut().enumerate() {
        *digit = DIGITS[((n >> (4 * (15 - i))) & 0xf) as usize];
    }
    hex.iter().map(|&b| b as char).collect()
}

/// What a byte is to the tokenizer, as bits: [`BLANK`] (ASCII whitespace) ends a token,
/// [`PIPE`] ends a part of one, [`DIGIT`] makes it one to mask, and so does [`EQUALS`] (a
/// `key=value`); [`SLASH`] may make it a path and [`DOT`] a host name; [`OTHER`] is anything
/// else.
const CLASS: [u8; 256] = {
    let mut class = [OTHER; 256];
    let mut b = 0;
    while b < 256 {
        class[b] = match b as u8 {
            b' ' | b'\t' | b'\n' | b'\r' | 0x0c => BLANK,
            b'|' => PIPE,
            b'0'..=b'9' => DIGIT,
            b'=' => OTHER | EQUALS,
            b'/' => OTHER | SLASH,
            b'.' => OTHER | DOT,
            _ => OTHER,
        };
        b += 1;
    }
    class
};
const OTHER: u8 = 1;
const DIGIT: u8 = 2;
const PIPE: u8 = 4;
const BLANK: u8 = 8;
const EQUALS: u8 = 16;
const SLASH: u8 = 32;
const DOT: u8 = 64;

/// Where the part starting at `i` ends (at a blank, a `|` or the end) and the classes of its
/// bytes, or-ed.
fn scan_part(bytes: &[u8], mut i: usize) -> (usize, u8) {
    let mut seen = 0;
    while let Some(&b) = bytes.get(i) {
        let class = CLASS[b as usize];
        if class & (PIPE | BLANK) != 0 {
            break;
        }
        seen |= class;
        i += 1;
    }
    (i, seen)
}

/// `message` with its variable parts replaced (see the module's table).
///
/// One pass over the bytes finds the tokens (runs between ASCII blanks, split again at `|`,
/// which separates fields as a blank does: `date|component|pid|message`) and whether each
/// part holds a digit. Text is written in spans: everything between two parts to mask, or
/// two blanks other than one space, is copied at once.
pub fn template(message: &str) -> String {
    let cut = if message.len() <= MAX_TEMPLATE_CHARS {
        message
    } else {
        match message.char_indices().nth(MAX_TEMPLATE_CHARS) {
            Some((at, _)) => &message[..at],
            None => message,
        }
    };
    let bytes = cut.as_bytes();
    let blank = |i: usize| bytes.get(i).is_some_and(|&b| CLASS[b as usize] == BLANK);
    let mut out = String::with_capacity(cut.len());
    let mut i = 0;
    while blank(i) {
        i += 1;
    }
    // Blanks and `|` are ASCII, so every slice below starts and ends on a character.
    // `span..` is written as it is when something else must be written after it.
    let (mut span, mut token_end) = (i, i);
    if let Some(colon) = subject(&cut[i..]) {
        // A job or bundle named first, as a logger would be: `com.apple.icloud.fmfd.heartbeat:
        // scheduler_evaluate_activity told me to run this job`.
        out.push_str("<*>");
        (span, i) = (i + colon, i + colon);
    }
    let (mut after_user, mut after_number) = (false, false);
    let mut previous = 0..0;
    // The quote of a `key="value` whose closing quote is in a later token.
    let mut quoted = None;
    while i < bytes.len() {
        let token_start = i;
        let mut named = false;
        if let Some(q) = quoted {
            // A word of that value: part of the `"<*>"` written already, the blank before it
            // too (`msg="no route to host"` is `msg="<*>"` as `msg="timeout"` is).
            if span == i {
                out.pop();
            } else {
                out.push_str(&cut[span..token_end]);
            }
            let end = bytes[i..]
                .iter()
                .position(|&b| CLASS[b as usize] == BLANK)
                .map_or(bytes.len(), |n| i + n);
            match memchr::memchr(q, &bytes[i..end]) {
                Some(at) => {
                    quoted = None;
                    (span, i) = (i + at + 1, i + at + 1);
                }
                None => (span, i) = (end, end),
            }
            named = true;
        }
        if after_user {
            // The word after `user` names one: `Invalid user admin from`, `for user cyrus`;
            // so does the word after sshd's `password for` (`Failed password for root`).
            // After more than one blank it may be the word after an empty name
            // (`Invalid user  from`, `invalid user  [preauth]`), or a name written with a
            // blank before it (`Invalid user  0101 from`).
            let (end, _) = scan_part(bytes, i);
            let word = &cut[i..end];
            let empty_name = i > token_end + 1 && matches!(word, "from" | "[preauth]" | "port");
            if !(empty_name || matches!(word, "invalid" | "illegal")) {
                out.push_str(&cut[span..i]);
                mask_word(word, &mut out);
                (span, i) = (end, end);
                named = true;
            }
        }
        // Units start with one of these bytes (`µ` with 0xc2): a cheap test first.
        if after_number
            && matches!(
                bytes[i],
                b'B' | b'K' | b'k' | b'M' | b'G' | b'T' | b'n' | b'u' | 0xc2 | b'm' | b's'
            )
        {
            let (end, _) = scan_part(bytes, i);
            let (lead, core, _) = edges(&cut[i..end]);
            if lead.is_empty() && is_unit(core) {
                // `12.0 KB` and `3 MB`, `35 ms` and `2 s`: a quantity, one `<num>` with its unit
                // (as `35ms` is); the blank before the unit goes too.
                if span == i {
                    out.pop();
                } else {
                    out.push_str(&cut[span..token_end]);
                }
                let mut skip = core.len();
                // A quantity restated in parentheses is left out: `5120 bytes (5.0 KB) sent`
                // is `5 bytes sent` once the count passes a kilobyte.
                if cut[i + skip..].starts_with(')') && out.ends_with(" (<num>") {
                    out.truncate(out.len() - " (<num>".len());
                    skip += 1;
                }
                (span, i) = (i + skip, i + skip);
            }
        }
        loop {
            let (end, seen) = scan_part(bytes, i);
            if seen == OTHER && is_date_word(&cut[i..end]) && dated(cut, end) {
                // `Sun Jul 10 03:55:21 2005`, `on Monday 12 May`: a date, however written.
                out.push_str(&cut[span..i]);
                out.push_str("<*>");
                span = end;
            } else if seen & (DIGIT | EQUALS) != 0 {
                out.push_str(&cut[span..i]);
                quoted = mask_part(&cut[i..end], seen & OTHER != 0, &mut out);
                span = end;
            } else if cut[i..end].starts_with("()") && edges(&cut[i..end]).1.is_empty() {
                // Empty parentheses standing alone hold a value that is empty this time
                // (`connection from 10.0.0.1 ()` beside `(host.example.net)`).
                out.push_str(&cut[span..i]);
                out.push_str("(<*>)");
                span = i + 2;
            } else if seen & DOT != 0 && is_host_name(edges(&cut[i..end]).1) {
                // A host name is as variable as an address (`for ns.example.com [10.0.0.1]`).
                out.push_str(&cut[span..i]);
                mask_core(&cut[i..end], "<*>", &mut out);
                span = end;
            } else if seen & SLASH != 0 && is_path(edges(&cut[i..end]).1) {
                // A path without a digit is as variable as one with (`GET /latest/meta-data/`).
                out.push_str(&cut[span..i]);
                mask_core(&cut[i..end], "<path>", &mut out);
                span = end;
            }
            i = end;
            if bytes.get(i) != Some(&b'|') {
                break;
            }
            i += 1;
        }
        token_end = i;
        after_number = span == token_end && out.ends_with("<num>");
        // A name is not followed by another (`Invalid user user from`).
        after_user = !named && names_user(&cut[previous.clone()], &cut[token_start..token_end]);
        previous = token_start..token_end;
        while blank(i) {
            i += 1;
        }
        // Blanks other than one space between two tokens become one space.
        if i < bytes.len() && !(i == token_end + 1 && bytes[token_end] == b' ') {
            out.push_str(&cut[span..token_end]);
            out.push(' ');
            span = i;
        }
    }
    out.push_str(&cut[span..token_end]);
    out
}

/// A unit of size or time written after a number: the magnitude it picks varies with the
/// number (`1023 B`, `1.0 KB`).
fn is_unit(word: &str) -> bool {
    matches!(
        word,
        "B" | "KB"
            | "kB"
            | "MB"
            | "GB"
            | "TB"
            | "KiB"
            | "MiB"
            | "GiB"
            | "TiB"
            | "ns"
            | "us"
            | "µs"
            | "ms"
            | "s"
            | "sec"
            | "secs"
    )
}

/// Where the `:` after a reverse-DNS name that opens `message` is (`com.apple.cts.job: ...`:
/// three labels or more, the first `com`, `org`, `net` or `io`), unless the name is an
/// exception's type (`...Exception:`, `...Error:`), which says what happened.
fn subject(message: &str) -> Option<usize> {
    let head = message.as_bytes().get(..4)?;
    if !matches!(head, b"com." | b"org." | b"net." | [b'i', b'o', b'.', _]) {
        return None;
    }
    // The first word, ending in `:`; its reverse-DNS part ends at a `:` inside it, if any
    // (`com.apple.ical.sync.x-coredata://DB05755C/p11:`).
    let colon = memchr::memchr(b' ', message.as_bytes())?.checked_sub(1)?;
    let name = &message[..colon];
    let domain = name.split(':').next().unwrap_or(name);
    let is_subject = message.as_bytes()[colon] == b':'
        && domain.split('.').count() >= 3
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        && !name.ends_with("Exception")
        && !name.ends_with("Error");
    is_subject.then_some(colon)
}

/// Whether the word after `token` (after `previous`) names a user: after `user`, and after
/// `for` in sshd's `Failed password for root`, `Accepted publickey for git` (but for `Failed
/// password for invalid user x`, where the name comes after `user`).
fn names_user(previous: &str, token: &str) -> bool {
    match token.len() {
        4 => token.eq_ignore_ascii_case("user"),
        3 => {
            token == "for"
                && matches!(
                    previous,
                    "password" | "publickey" | "none" | "keyboard-interactive/pam" | "hostbased"
                )
        }
        _ => false,
    }
}

/// The English names of months and weekdays as dates write them (`Jul`, `July`, `Sun`), with
/// a trailing `,` or `.`.
fn is_date_word(word: &str) -> bool {
    // Most words fail the first test: it comes first. Every name starts with one of these.
    if !word.as_bytes().first().is_some_and(|b| {
        matches!(
            b,
            b'J' | b'F' | b'M' | b'A' | b'S' | b'O' | b'N' | b'D' | b'T' | b'W'
        )
    }) || !(3..=10).contains(&word.len())
    {
        return false;
    }
    matches!(
        word.trim_end_matches([',', '.']),
        "Jan"
            | "Feb"
            | "Mar"
            | "Apr"
            | "May"
            | "Jun"
            | "Jul"
            | "Aug"
            | "Sep"
            | "Sept"
            | "Oct"
            | "Nov"
            | "Dec"
            | "January"
            | "February"
            | "March"
            | "April"
            | "June"
            | "July"
            | "August"
            | "September"
            | "October"
            | "November"
            | "December"
            | "Mon"
            | "Tue"
            | "Tues"
            | "Wed"
            | "Thu"
            | "Fri"
            | "Sat"
            | "Sun"
            | "Monday"
            | "Tuesday"
            | "Wednesday"
            | "Thursday"
            | "Friday"
            | "Saturday"
            | "Sunday"
    )
}

/// Whether the token after `at` (past blanks) continues a date: it starts with a digit or
/// is a month or weekday name itself.
fn dated(cut: &str, at: usize) -> bool {
    let bytes = cut.as_bytes();
    let mut i = at;
    while bytes.get(i).is_some_and(|&b| CLASS[b as usize] == BLANK) {
        i += 1;
    }
    match bytes.get(i) {
        Some(b) if b.is_ascii_digit() => true,
        Some(_) => is_date_word(&cut[i..scan_part(bytes, i).0]),
        None => false,
    }
}

/// Masks `part`, which holds a digit and, if `other`, something else: digits alone, the most
/// common variable part, without a look at their shape (what [`mask_value`] makes of them).
/// Returns the quote of a quoted value that goes on past `part` (see [`mask_key_value`]).
fn mask_part(part: &str, other: bool, out: &mut String) -> Option<u8> {
    if other {
        return mask_token(part, out);
    } else if part.len() >= 8 && part.starts_with('0') {
        out.push_str("<hex>");
    } else {
        out.push_str("<num>");
    }
    None
}

fn is_edge_punct(c: char) -> bool {
    matches!(
        c,
        '(' | ')' | '[' | ']' | '{' | '}' | '<' | '>' | '"' | '\'' | ',' | ';' | '.' | '!' | '?'
    )
}

/// `token` as the punctuation before it, its core, and the punctuation after it (a trailing
/// `:` too: `port 80:`). All of that punctuation is ASCII, so the cuts fall between
/// characters.
fn edges(token: &str) -> (&str, &str, &str) {
    let bytes = token.as_bytes();
    let start = bytes
        .iter()
        .position(|&b| !is_edge_punct(b as char))
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|&b| !(is_edge_punct(b as char) || b == b':'))
        .map_or(0, |last| last + 1)
        .max(start);
    (&token[..start], &token[start..end], &token[end..])
}

/// A word that names something (a user): `<*>`, its punctuation kept.
fn mask_word(token: &str, out: &mut String) {
    mask_core(token, "<*>", out);
}

/// `token` with its core, if any, as `placeholder` and its punctuation kept.
fn mask_core(token: &str, placeholder: &str, out: &mut String) {
    let (lead, core, trail) = edges(token);
    out.push_str(lead);
    out.push_str(if core.is_empty() { "" } else { placeholder });
    out.push_str(trail);
}

/// Masks `token`, which holds a digit or a `=`; returns the quote of a quoted value that goes
/// on past it.
fn mask_token(token: &str, out: &mut String) -> Option<u8> {
    let (lead, core, trail) = edges(token);
    // A bound is written with its number: `lifetime <1 sec` beside `lifetime 00:01`.
    let lead = if lead.ends_with(['<', '>']) && is_number(core) {
        lead.trim_end_matches(['<', '>'])
    } else {
        lead
    };
    out.push_str(lead);
    match core.bytes().position(|b| b == b'=' || b == b':') {
        // `key=value`: the key stays and any value is a variable (`user=alice`, `rhost=10.0.0.1`
        // and `rhost=db.example.com` are one pattern).
        Some(at) if at > 0 && core.as_bytes()[at] == b'=' && !has_digit(&core[..at]) => {
            out.push_str(&core[..=at]);
            return mask_key_value(&token[lead.len() + at + 1..], out);
        }
        // `host:port`: `<*>:<num>`, whichever the host, named or addressed (`/` kept, as
        // Java writes a resolved address).
        _ if is_host_port(core) || is_ipv4(core) && core.contains(':') => {
            if core.starts_with('/') {
                out.push('/');
            }
            out.push_str("<*>:<num>");
        }
        // `key:value`: the key stays, the value is masked.
        Some(at) if at > 0 && !has_digit(&core[..at]) && !is_whole_value(core) => {
            out.push_str(&core[..=at]);
            mask_value(&core[at + 1..], out);
        }
        _ => mask_value(core, out),
    }
    out.push_str(trail);
    None
}

/// The value of a `key=value` and what follows it in its token, as `<*>` and that: a quoted
/// value whole (`"<*>"`; its quote is returned when it closes in a later token:
/// `msg="no route`), brackets opened inside an unquoted one closed with it
/// (`ws=WorkSource{10113},` is `ws=<*>,`), an empty value left empty (`logname=`).
fn mask_key_value(after: &str, out: &mut String) -> Option<u8> {
    let bytes = after.as_bytes();
    if let Some(&q @ (b'"' | b'\'')) = bytes.first() {
        out.push(q as char);
        return match memchr::memchr(q, &bytes[1..]) {
            Some(at) => {
                out.push_str(if at == 0 { "" } else { "<*>" });
                out.push_str(&after[1 + at..]);
                None
            }
            None => {
                out.push_str("<*>");
                out.push(q as char);
                Some(q)
            }
        };
    }
    let value_end = bytes
        .iter()
        .rposition(|&b| !(is_edge_punct(b as char) || b == b':'))
        .map_or(0, |last| last + 1);
    let (value, trail) = after.split_at(value_end);
    let open = value
        .bytes()
        .filter(|b| matches!(b, b'(' | b'[' | b'{'))
        .count();
    let closed = value
        .bytes()
        .filter(|b| matches!(b, b')' | b']' | b'}'))
        .count();
    let closing = trail
        .bytes()
        .take(open.saturating_sub(closed))
        .take_while(|b| matches!(b, b')' | b']' | b'}'))
        .count();
    if !value.is_empty() {
        out.push_str("<*>");
    }
    out.push_str(&trail[closing..]);
    None
}

/// A host name of two labels or more, the last of letters, a `:` and a port:
/// `proxy.example.edu.hk:5070`, `5.google.com:443`.
fn is_host_port(s: &str) -> bool {
    // The port first, from the end: most tokens fail there, without a search.
    let bytes = s.as_bytes();
    let digits = bytes
        .iter()
        .rev()
        .take_while(|b| b.is_ascii_digit())
        .count();
    if !(1..=5).contains(&digits) || bytes.len() < digits + 2 {
        return false;
    }
    let colon = bytes.len() - digits - 1;
    if bytes[colon] != b':' || !bytes[colon - 1].is_ascii_alphabetic() {
        return false;
    }
    let (host, port) = (&s[..colon], &s[colon + 1..]);
    let label = |l: &str| {
        !l.is_empty()
            && l.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    (1..=5).contains(&port.len())
        && port.bytes().all(|b| b.is_ascii_digit())
        && host.contains('.')
        && host.split('.').all(label)
        && host
            .rsplit('.')
            .next()
            .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_alphabetic()))
}

/// A host name of three labels or more whose last is a top-level domain: a generic one, or
/// two letters that are not also a source file's extension (`settings.local.py`) or a
/// setting's last word (`mapred.task.id`).
/// `ns.example.com`, `customer-187-141-143-180-sta.uninet-ide.com.mx`, `proxy.cse.edu.hk`;
/// not `com.apple.launchd` or `org.apache.kafka`, package names.
fn is_host_name(s: &str) -> bool {
    if !s.as_bytes().last().is_some_and(u8::is_ascii_lowercase) {
        return false;
    }
    let Some((rest, tld)) = s.rsplit_once('.') else {
        return false;
    };
    let generic = matches!(
        tld,
        "com" | "net" | "org" | "edu" | "gov" | "mil" | "int" | "info" | "biz" | "io"
    );
    let country = tld.len() == 2
        && tld.bytes().all(|b| b.is_ascii_lowercase())
        && !matches!(
            tld,
            "py" | "rs" | "sh" | "pl" | "md" | "ps" | "so" | "cc" | "cs" | "js" | "id"
        );
    (generic || country)
        && rest.split('.').count() >= 2
        && rest.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

fn has_digit(s: &str) -> bool {
    s.bytes().any(|b| b.is_ascii_digit())
}

/// A value read whole (an address, a time) whose `:` is not a key's.
fn is_whole_value(s: &str) -> bool {
    is_ipv4(s) || is_number(s)
}

fn mask_value(value: &str, out: &mut String) {
    let placeholder = if value.is_empty() || !has_digit(value) {
        None
    } else if is_ipv4(value) || is_ipv4_list(value) {
        Some("<ip>")
    } else if is_uuid(value) {
        Some("<uuid>")
    } else if is_hex(value) {
        Some("<hex>")
    } else if is_number(value) {
        Some("<num>")
    } else if is_path(value) {
        Some("<path>")
    } else {
        None
    };
    match placeholder {
        Some(p) => out.push_str(p),
        None if is_host_name(value) => out.push_str("<*>"),
        None => mask_digit_runs(value, out),
    }
}

/// Each alphanumeric run that holds a digit as `<num>` (with a sign before it): `blk_-42` →
/// `blk_<num>`, `req-addc4e1b` → `req-<num>`; the separators between runs stay. A token
/// mostly made of such runs is an identifier and becomes `<*>` whole (`R02-M1-ND-C:J12-U11`,
/// a node name whose letters-only parts vary too).
fn mask_digit_runs(value: &str, out: &mut String) {
    let bytes = value.as_bytes();
    let begin = out.len();
    // Runs are of ASCII letters and digits; any other byte, a non-ASCII one too, separates.
    let (mut runs, mut with_digits) = (0, 0);
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_alphanumeric() {
            // A sign, not a separator: `blk_-42`, not `paas-2018`.
            let signed = bytes[i] == b'-'
                && bytes.get(i + 1).is_some_and(u8::is_ascii_digit)
                && (i == 0 || !bytes[i - 1].is_ascii_alphanumeric());
            if !signed {
                // One separator character, whole (it may be more than a byte).
                let width = value[i..].chars().next().map_or(1, char::len_utf8);
                out.push_str(&value[i..i + width]);
                i += width;
                continue;
            }
            i += 1;
        }
        let start = i;
        let mut digit = false;
        while i < bytes.len() && bytes[i].is_ascii_alphanumeric() {
            digit |= bytes[i].is_ascii_digit();
            i += 1;
        }
        runs += 1;
        if digit {
            with_digits += 1;
            out.push_str("<num>");
        } else {
            out.push_str(&value[start..i]);
        }
    }
    if runs > 2 && 2 * with_digits >= runs {
        out.truncate(begin);
        out.push_str("<*>");
    }
}

fn is_number(s: &str) -> bool {
    let digits = s.strip_prefix(['-', '+']).unwrap_or(s);
    let digits = digits.strip_suffix('%').unwrap_or(digits);
    !digits.is_empty()
        && digits.as_bytes()[0].is_ascii_digit()
        && digits
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b',' | b':'))
}

/// Four dotted numbers of one to three digits, after an optional `/`, with an optional port
/// of one to five digits.
fn is_ipv4(s: &str) -> bool {
    let b = s.as_bytes();
    let b = b.strip_prefix(b"/").unwrap_or(b);
    let mut i = 0;
    for part in 0..4 {
        if part > 0 {
            if b.get(i) != Some(&b'.') {
                return false;
            }
            i += 1;
        }
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() && i - start < 4 {
            i += 1;
        }
        if !(1..=3).contains(&(i - start)) {
            return false;
        }
    }
    match b.get(i..) {
        Some([]) => true,
        Some([b':', port @ ..]) => {
            (1..=5).contains(&port.len()) && port.iter().all(u8::is_ascii_digit)
        }
        _ => false,
    }
}

/// Addresses separated by `,`, as `X-Forwarded-For` lists them.
fn is_ipv4_list(s: &str) -> bool {
    s.as_bytes().first().is_some_and(u8::is_ascii_digit)
        && s.contains(',')
        && s.split(',').all(|a| !a.contains(':') && is_ipv4(a))
}

fn is_uuid(s: &str) -> bool {
    const DASHES: [usize; 4] = [8, 13, 18, 23];
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| {
            if DASHES.contains(&i) {
                b == b'-'
            } else {
                b.is_ascii_hexdigit()
            }
        })
}

fn is_hex(s: &str) -> bool {
    if let Some(rest) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        return !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_hexdigit());
    }
    // Eight digits or more with a leading zero are a fixed-width hex field too (`00106570`
    // beside `0247d2d8`).
    s.len() >= 8
        && s.bytes().all(|b| b.is_ascii_hexdigit())
        && (s.bytes().any(|b| b.is_ascii_alphabetic()) || s.starts_with('0'))
}

fn is_path(s: &str) -> bool {
    let windows = s.len() > 2 && s.as_bytes()[1] == b':' && s.as_bytes()[2] == b'\\';
    (s.starts_with('/') && s[1..].contains('/')) || windows
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(config: &str) -> PatternRules {
        let config: PatternsConfig = toml::from_str(config).unwrap();
        PatternRules::new(&config).unwrap()
    }

    #[test]
    fn a_prefix_of_a_line_without_a_known_header_is_left_out() {
        let tbird = "- 1131566461 2005.11.09 dn228 Nov 9 12:01:01 dn228/dn228 crond(pam_unix)[2915]: session closed for user root";
        let admin = "- 1131566461 2005.11.09 tbird-admin1 Nov 10 04:01:01 local@tbird-admin1 crond(pam_unix)[1]: session closed for user news";
        assert_eq!(groupable(tbird, "none"), "session closed for user root");
        assert_eq!(
            pattern(groupable(tbird, "none")),
            pattern(groupable(admin, "none"))
        );
        let proxy = "[10.30 16:49:06] chrome.exe *64 - proxy.x.hk:5070 open through proxy p.x.hk:5070 HTTPS";
        assert_eq!(
            groupable(proxy, "none"),
            "proxy.x.hk:5070 open through proxy p.x.hk:5070 HTTPS"
        );
        let hpc = "2286759 full partition status 1061219795 -1 running";
        assert_eq!(groupable(hpc, "none"), "running");
        assert_eq!(
            groupable("134681 node-246 node status 1077804742 1 running", "none"),
            "running"
        );
        let bgl = "KERNDTLB 1118536327 2005.06.11 R30-M0-N9-C:J16-U01 2005-06-11-17.32.07.581048 R30-M0-N9-C:J16-U01 RAS KERNEL FATAL data TLB error interrupt";
        assert_eq!(groupable(bgl, "none"), "data TLB error interrupt");
        // A recognised header's message is used whole, and so is a line with no such prefix.
        assert_eq!(groupable(tbird, "syslog3164"), tbird);
        assert_eq!(
            groupable("disk full at 10:00:01", "none"),
            "disk full at 10:00:01"
        );
    }

    #[test]
    fn masks_and_pinned_templates_of_ones_own() {
        let none = rules("");
        let message = "session alpha expired for bob";
        assert_eq!(none.pattern(message), pattern(message));
        assert!(!none.pattern(message).custom);

        let own = rules(
            r#"
            masks = [{ name = "order", regex = "ORD-[A-Z]+" }]
            pinned = ["session <*> expired for <*>", "order <order> <*>"]
            "#,
        );
        let alpha = own.pattern(message);
        let beta = own.pattern("session  beta expired for carol");
        assert_eq!(alpha.template, "session <*> expired for <*>");
        assert_eq!(alpha, beta, "blanks match blanks, <*> any text");
        assert!(alpha.custom);
        // Masks come first, and a pinned template may name them.
        let order = own.pattern("order ORD-ABC shipped late");
        assert_eq!(order.template, "order <order> <*>");
        let masked = own.pattern("refund ORD-XYZ for 12 EUR");
        assert_eq!(masked.template, "refund <order> for <num> EUR");
        assert!(masked.custom);
        // A message no rule touches is what the default rules make of it.
        assert_eq!(own.pattern("disk 3 full"), pattern("disk 3 full"));
        assert_eq!(
            own.pattern("session x expired"),
            pattern("session x expired")
        );
    }

    #[test]
    fn bad_pattern_rules_say_which_and_why() {
        let bad = |config: &str| {
            let config: PatternsConfig = toml::from_str(config).unwrap();
            PatternRules::new(&config).unwrap_err()
        };
        let says = bad(r#"masks = [{ name = "order", regex = "ORD-[" }]"#);
        assert!(says.contains("mask \"order\""), "{says}");
        let says = bad(r#"masks = [{ name = "Order Id", regex = "x" }]"#);
        assert!(says.contains("lowercase"), "{says}");
        assert!(bad(r#"pinned = ["  "]"#).contains("empty"));
    }

    #[track_caller]
    fn t(message: &str, expected: &str) {
        assert_eq!(template(message), expected, "{message:?}");
    }

    #[test]
    fn variable_parts_become_placeholders() {
        t(
            "Connection refused to 10.0.0.3:5432",
            "Connection refused to <*>:<num>",
        );
        t(
            "Receiving block blk_-1608 src: /10.250.19.102:54106 dest: /10.250.19.102:50010",
            "Receiving block blk_<num> src: /<*>:<num> dest: /<*>:<num>",
        );
        t(
            "PacketResponder 1 for block blk_38865049064139660 terminating",
            "PacketResponder <num> for block blk_<num> terminating",
        );
        t("user=alice login failed", "user=<*> login failed");
        t(
            "user=42, retries=3. logname=",
            "user=<*>, retries=<*>. logname=",
        );
        t(
            "rhost=10.0.0.1 rhost=db.example.com rhost=1-2.x.net",
            "rhost=<*> rhost=<*> rhost=<*>",
        );
        t(
            "Invalid user admin from 1.2.3.4; for user 42, USER root",
            "Invalid user <*> from <ip>; for user <*>, USER <*>",
        );
        t(
            "Failed password for root from 1.2.3.4 port 22 ssh2; Accepted publickey for git",
            "Failed password for <*> from <ip> port <num> <num>; Accepted publickey for <*>",
        );
        t(
            "Failed password for invalid user x from 1.2.3.4; Invalid user  from 1.2.3.4",
            "Failed password for invalid user <*> from <ip>; Invalid user from <ip>",
        );
        t(
            "for ns.marryal.com [1.2.3.4] and customer-187-1-2-3-sta.uninet-ide.com.mx, (x.y.edu.hk)",
            "for <*> [<ip>] and <*>, (<*>)",
        );
        t(
            "com.apple.launchd org.apache.kafka settings.local.py example.com done.",
            "com.apple.launchd org.apache.kafka settings.local.py example.com done.",
        );
        t(
            "from 1.2.3.4 () at; from 1.2.3.4 (a-1.b.example.net), f() (),",
            "from <ip> (<*>) at; from <ip> (<*>), f() (<*>),",
        );
        t(
            r#"acquire tag="View Lock", ws=WorkSource{10113}, x=a) y="RIL_WL", z="", msg="a b c"#,
            r#"acquire tag="<*>", ws=<*>, x=<*>) y="<*>", z="", msg="<*>""#,
        );
        t(
            r#"level=info msg="connection from peer closed" peer=10.0.0.1 took=3ms"#,
            r#"level=<*> msg="<*>" peer=<*> took=<*>"#,
        );
        t(
            "com.apple.icloud.fmfd.heartbeat: told me to run; org.x.y: z",
            "<*>: told me to run; org.x.y: z",
        );
        t(
            "com.apple.ical.sync.x-coredata://DB05/p11: told",
            "<*>: told",
        );
        t(
            "org.apache.kafka.common.KafkaException: failed; com.a: b",
            "org.apache.kafka.common.KafkaException: failed; com.a: b",
        );
        t(
            "Invalid user user from a; Invalid user  0101 from b; invalid user  [preauth]",
            "Invalid user <*> from a; Invalid user <*> from b; invalid user [preauth]",
        );
        t(
            "connection at Sun Jul 10 03:55:21 2005, due Monday, March 3 but May I",
            "connection at <*> <*> <num> <num> <num>, due <*> <*> <num> but May I",
        );
        t(
            "proxy.cse.edu.hk:5070 open through 5.google.com:443 (Foo.java:42)",
            "<*>:<num> open through <*>:<num> (<*>:<num>)",
        );
        t(
            "order 3f2b6c1e-8d4a-4b7e-9c1d-2a3b4c5d6e7f missing (0x7f3a2c)",
            "order <uuid> missing (<hex>)",
        );
        t(
            "opened /var/log/app-2024-03-01.log in 35ms",
            "opened <path> in <num>",
        );
        t(
            "R02-M1-ND-C:J12-U11 req-addc4e1b core.2275 iar 00106570 dear 0247d2d8",
            "<*> req-<num> core.<num> iar <hex> dear <hex>",
        );
        t("index paas-2018 shard -3", "index paas-<num> shard <num>");
        t(
            "10.11.21.122,10.11.10.1 \"GET /latest/meta-data/ HTTP/1.1\" at 10.0.0.7",
            "<ip> \"GET <path> <*>\" at <ip>",
        );
        t(
            "proxy.cse.edu.hk:5070 and 10.0.0.1:5070 and/or /tmp or (/a/b)",
            "<*>:<num> and <*>:<num> and/or /tmp or (<path>)",
        );
        // Characters beyond ASCII inside a masked token stay whole.
        t(
            "price 12.5€ for ≈3 nights",
            "price <num>.<num>€ for ≈<num> nights",
        );
        t("took 1,500.25 ms at 12:00:01", "took <num> at <num>");
        t(
            "size 80.0 B, free 2.1 KB (3  MB) in 35ms or 2 s. 5 Bs, 4 files",
            "size <num>, free <num> in <num> or <num>. <num> Bs, <num> files",
        );
        t(
            "close, 5120 bytes (5.0 KB) sent, lifetime <1 sec; (2 KB) error (42) <x>",
            "close, <num> bytes sent, lifetime <num>; error (<num>) <x>",
        );
        t("  spaces\tand   tabs 7 ", "spaces and tabs <num>");
        t(
            "20171223-22:15:29:606|Step_LSC|30002312|onStandStepChanged 3579",
            "<*>|Step_LSC|<num>|onStandStepChanged <num>",
        );
    }

    #[test]
    fn a_remembered_pattern_is_the_pattern_of_the_message() {
        // More distinct messages than slots, so slots are shared and taken over; each asked
        // for twice, far apart and back to back; an empty message and one too long to keep.
        let messages: Vec<String> = (0..3 * super::super::recent::SLOTS)
            .map(|i| match i % 4 {
                0 => format!("worker {i} started"),
                1 => format!("user{} logged in from host-{}", i % 7, i % 5),
                2 => format!("path /var/x{} missing", i % 11),
                _ => "x".repeat(i % 3),
            })
            .chain([
                String::new(),
                "a b ".repeat(super::super::recent::MAX_MESSAGE),
            ])
            .collect();
        for message in messages
            .iter()
            .chain(&messages)
            .chain(messages.iter().rev())
        {
            assert_eq!(recent_pattern(message), pattern(message), "{message:?}");
            assert_eq!(recent_pattern(message), pattern(message), "{message:?}");
        }
    }

    #[test]
    fn the_id_depends_on_the_template_only() {
        let a = pattern("worker 7 stopped after 3 tries");
        let b = pattern("worker 12 stopped after 40 tries");
        assert_eq!(a, b);
        assert_eq!(a.id.len(), 16);
        assert_ne!(a.id, pattern("worker 7 started after 3 tries").id);
        // Fixed forever: a stored id must mean the same template in every later build.
        assert_eq!(a.template, "worker <num> stopped after <num> tries");
        assert_eq!(
            a.id,
            format!("{:016x}", xxhash_rust::xxh3::xxh3_64(a.template.as_bytes()))
        );
    }

    #[test]
    fn a_long_message_is_grouped_on_its_first_part() {
        let head = "x ".repeat(MAX_TEMPLATE_CHARS / 2);
        let one = pattern(&format!("{head} tail one 1"));
        let two = pattern(&format!("{head} another tail 2"));
        assert_eq!(one.id, two.id);
        assert!(one.template.len() <= MAX_TEMPLATE_CHARS);
    }
}
