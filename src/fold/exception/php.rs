//! PHP traces: `PHP Fatal error:  Uncaught App\Ex: msg in /var/www/x.php:12`, or Laravel's
//! `[object] (App\Ex(code: 0): msg at /var/www/x.php:12)`, then `Stack trace:` / `[stacktrace]`
//! and numbered frames `#0 /var/www/x.php(34): App\Foo->bar('x')` up to `#N {main}`. Most
//! recent call first. `Next X: msg` (an exception thrown while handling the one above) starts
//! the next, outer, exception; PHP prints the innermost first.

use super::InApp;
use crate::event::{ExceptionInfo, Frame};

pub(super) fn extract(lines: &[&str], in_app: &InApp) -> Option<Vec<ExceptionInfo>> {
    let mut printed: Vec<ExceptionInfo> = Vec::new();
    let mut current: Option<ExceptionInfo> = None;
    for line in lines {
        let t = line.trim().trim_start_matches('"');
        if let Some(head) = exception_line(t) {
            printed.extend(current.replace(head));
        } else if let Some(frame) = frame(t, in_app) {
            let exc = current.get_or_insert_with(|| ExceptionInfo::new("", ""));
            exc.frames.to_mut().extend(frame);
        }
    }
    printed.extend(current);
    if printed.iter().all(|e| e.frames.is_empty()) {
        return None;
    }
    // Printed innermost (the cause) first; the chain is outermost first.
    printed.reverse();
    Some(printed)
}

/// The exception line in any of PHP's spellings.
fn exception_line(t: &str) -> Option<ExceptionInfo> {
    // Laravel / Monolog: `... [object] (App\Ex(code: 0): msg at /x.php:12)`.
    if let Some(at) = t.find("[object] (") {
        let rest = &t[at + "[object] (".len()..];
        let (ty, rest) = rest.split_once("(code: ")?;
        let message = rest.split_once("): ").map_or("", |(_, m)| m);
        let message = message.rsplit_once(" at /").map_or(message, |(m, _)| m);
        // Inside a JSON context the backslashes of namespaces are doubled.
        return Some(ExceptionInfo::new(&ty.replace("\\\\", "\\"), message));
    }
    // PHP 5: `exception 'App\Ex' with message 'msg' in /x.php:12`, alone or after `Uncaught`.
    if let Some(at) = t.find("exception '") {
        let rest = &t[at + "exception '".len()..];
        let (ty, rest) = rest.split_once("' with message '")?;
        let message = rest.rsplit_once("' in ").map_or(rest, |(m, _)| m);
        return Some(ExceptionInfo::new(ty, message));
    }
    let rest = t
        .split_once("Uncaught ")
        .map(|(_, rest)| rest)
        .or_else(|| t.strip_prefix("Next "))?;
    let (ty, message) = rest.split_once(": ").unwrap_or((rest, ""));
    let named = !ty.is_empty()
        && ty
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'\\' | b'_'));
    let message = message.rsplit_once(" in /").map_or(message, |(m, _)| m);
    named.then(|| ExceptionInfo::new(ty, message))
}

/// `#0 /var/www/app/Foo.php(34): App\Foo->bar('x')`, `#1 [internal function]: f()`.
fn frame(t: &str, in_app: &InApp) -> Option<Option<Frame>> {
    let rest = t.strip_prefix('#')?;
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let rest = rest.get(digits..)?.strip_prefix(' ')?;
    if rest == "{main}" {
        return Some(None);
    }
    let (location, call) = rest.split_once(": ")?;
    let (file, line) = match location.strip_suffix(')').and_then(|l| l.rsplit_once('(')) {
        Some((file, line)) => (Some(file.to_owned()), line.parse().ok()),
        None => (None, None),
    };
    let name = call.split_once('(').map_or(call, |(name, _)| name);
    let (module, function) = name
        .rsplit_once("->")
        .or_else(|| name.rsplit_once("::"))
        .unwrap_or(("", name));
    let library = file.as_deref().is_none_or(|f| f.contains("/vendor/"));
    Some(Some(Frame {
        in_app: in_app.by_prefix(module).unwrap_or(!library),
        module: module.replace("\\\\", "\\"),
        function: function.to_owned(),
        file,
        line,
    }))
}
