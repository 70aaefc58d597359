//! Ruby traces: the uncaught form `app.rb:12:in 'm': msg (Type)` then `\tfrom path:line:in 'm'`
//! frames; Rails' `Type (msg):` above bare `app/x.rb:12:in 'm'` frames; a logger's message
//! ending in `(Type)`. Most recent call first.

use super::{InApp, source_module};
use crate::event::{ExceptionInfo, Frame};
use crate::fold::trace::{is_rails_exception, is_ruby_frame};

pub(super) fn extract(lines: &[&str], in_app: &InApp) -> Option<Vec<ExceptionInfo>> {
    let frame_at = |l: &str| {
        let t = l.trim();
        is_ruby_frame(t.strip_prefix("from ").unwrap_or(t))
    };
    let first_frame = lines.iter().position(|l| frame_at(l))?;
    let mut head = lines[..=first_frame]
        .iter()
        .rev()
        .find_map(|l| exception_line(l.trim()))
        .unwrap_or_else(|| ExceptionInfo::new("", ""));
    for line in lines[first_frame..].iter().filter(|l| frame_at(l)) {
        let t = line.trim();
        head.frames
            .to_mut()
            .extend(frame(t.strip_prefix("from ").unwrap_or(t), in_app));
    }
    Some(vec![head])
}

/// `msg (Type)` at the end of a line (the uncaught form puts it after the first frame's
/// `in 'm': `), or Rails' `Type (msg):`.
fn exception_line(t: &str) -> Option<ExceptionInfo> {
    let is_type = |ty: &str| {
        ty.starts_with(|c: char| c.is_ascii_uppercase())
            && ty
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'_'))
    };
    if let Some(inner) = t.strip_suffix(')')
        && let Some((message, ty)) = inner.rsplit_once(" (")
        && is_type(ty)
    {
        let message = match message
            .split_once("': ")
            .or_else(|| message.split_once("`: "))
        {
            Some((location, rest)) if location.contains(".rb:") => rest,
            _ => message,
        };
        return Some(ExceptionInfo::new(ty, message));
    }
    if !is_rails_exception(t) {
        return None;
    }
    let (ty, rest) = t.split_once(" (")?;
    Some(ExceptionInfo::new(ty, rest.strip_suffix("):")?))
}

/// `/app/models/user.rb:42:in 'User#save'` or `` app/x.rb:3:in `block in run' ``.
fn frame(t: &str, in_app: &InApp) -> Option<Frame> {
    let rb = t.find(".rb:")?;
    let path = &t[..rb + 3];
    let rest = &t[rb + 4..];
    let (line, function) = rest.split_once(":in ")?;
    let function = function
        .trim_start_matches(['\'', '`'])
        .split(['\'', '`'])
        .next()
        .unwrap_or("");
    // `block (2 levels) in run` and `rescue in run` name the method `run`.
    let function = function.rsplit(" in ").next().unwrap_or(function);
    // Rails' backtrace cleaner names a gem's frames `actionpack (7.1.3) lib/...`.
    let gem = path
        .split_once(" (")
        .filter(|(name, rest)| !name.contains('/') && rest.contains(") "))
        .map(|(name, rest)| (name, rest.split_once(") ").map_or(rest, |(_, p)| p)));
    if let Some((name, inside)) = gem {
        let module = format!("{name}/{}", source_module(inside, &[".rb"]));
        return Some(Frame {
            in_app: in_app.by_prefix(&module).unwrap_or(false),
            module,
            function: function.to_owned(),
            file: Some(path.to_owned()),
            line: line.parse().ok(),
        });
    }
    let library = path.contains("/gems/")
        || path.contains("/lib/ruby/")
        || path.contains("vendor/bundle")
        || path.starts_with("<internal:");
    let module = source_module(path, &[".rb"]);
    Some(Frame {
        in_app: in_app.by_prefix(&module).unwrap_or(!library),
        module,
        function: function.to_owned(),
        file: Some(path.to_owned()),
        line: line.parse().ok(),
    })
}
