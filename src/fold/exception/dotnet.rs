//! .NET traces (`Exception.ToString()`): `Outer: msg ---> Inner: msg`, then the innermost
//! exception's frames, `--- End of inner exception stack trace ---`, the next outer one's
//! frames, and so on; `--- End of stack trace from previous location ---` only marks an async
//! hand-over within one stack.

use super::InApp;
use crate::event::{ExceptionInfo, Frame};
use crate::fold::trace::{Kind, classify, is_throwable_class};

/// Namespaces of the runtime and its libraries (the GAC), not in-app.
const FRAMEWORKS: &[&str] = &["System.", "Microsoft.", "Mono.", "MS.", "Windows."];

pub(super) fn extract(lines: &[&str], in_app: &InApp) -> Option<Vec<ExceptionInfo>> {
    let first_frame = lines
        .iter()
        .position(|l| classify(l) == Kind::DotnetFrame)?;
    // The chain is printed on the lines before the first frame: `A: m ---> B: m ---> C: m`,
    // each `--->` possibly starting a line of its own.
    let head_text = lines[..first_frame]
        .iter()
        .skip_while(|l| exception_start(l.trim()).is_none())
        .map(|l| l.trim())
        .collect::<Vec<_>>()
        .join("\n");
    let mut chain: Vec<ExceptionInfo> = head_text
        .split(" ---> ")
        .flat_map(|part| part.split("\n---> "))
        .filter_map(|part| {
            let part = part.trim().trim_start_matches("---> ");
            exception_start(part)
        })
        .collect();
    if chain.is_empty() {
        chain.push(ExceptionInfo::new("", ""));
    }
    // Frames come innermost first; each end-of-inner marker moves one exception outwards.
    let mut owner = chain.len() - 1;
    for line in &lines[first_frame..] {
        let t = line.trim();
        match classify(line) {
            Kind::DotnetFrame => chain[owner].frames.to_mut().extend(frame(t, in_app)),
            Kind::DotnetMarker if t.contains("End of inner exception") => {
                owner = owner.saturating_sub(1)
            }
            _ => {}
        }
    }
    Some(chain)
}

/// `System.InvalidOperationException: msg` (or a bare type): the type must be qualified and
/// end in `Exception`.
fn exception_start(t: &str) -> Option<ExceptionInfo> {
    let t = t.strip_prefix("Unhandled exception. ").unwrap_or(t);
    let (ty, message) = t.split_once(": ").unwrap_or((t, ""));
    // `System.Net.Sockets.SocketException (111)`: the native error code is not the type.
    let ty = match ty.split_once(" (") {
        Some((ty, code))
            if code
                .trim_end_matches(')')
                .bytes()
                .all(|b| b.is_ascii_digit()) =>
        {
            ty
        }
        _ => ty,
    };
    is_throwable_class(ty).then(|| ExceptionInfo::new(ty, message))
}

/// `at Acme.Orders.OrderService.Charge(Int32 id, String card) in /src/OrderService.cs:line 42`.
/// Mono's form: `at NS.Type.Method (String s) [0x00007] in /src/x.cs:9`.
fn frame(t: &str, in_app: &InApp) -> Option<Frame> {
    let body = t.strip_prefix("at ")?;
    let (call, location) = match body.split_once(") in ") {
        Some((call, location)) => (call, Some(location)),
        None => match body
            .split_once(") [0x")
            .or_else(|| body.split_once(") <0x"))
        {
            Some((call, rest)) => (
                call,
                rest.split_once("] in ")
                    .or_else(|| rest.split_once("> in "))
                    .map(|(_, l)| l),
            ),
            None => (body.trim_end_matches(')'), None),
        },
    };
    let qualified = call
        .split_once('(')
        .map_or(call, |(name, _)| name)
        .trim_end();
    // Type arguments, wherever they stand: `Dictionary`2[System.String,System.Int32].get_Item`,
    // `Repository`1.Find[T]`.
    let mut depth = 0usize;
    let qualified: String = qualified
        .chars()
        .filter(|&c| {
            match c {
                '[' => depth += 1,
                ']' => depth = depth.saturating_sub(1),
                _ => return depth == 0,
            }
            false
        })
        .collect();
    let (mut module, mut function) = qualified.rsplit_once('.')?;
    // `OrderService.<ChargeAsync>d__5.MoveNext` is the async method `ChargeAsync`; the state
    // machine's number changes between builds.
    if function == "MoveNext"
        && let Some((outer, machine)) = module.rsplit_once('.')
        && let Some(name) = machine.strip_prefix('<').and_then(|m| m.split_once(">d__"))
    {
        (module, function) = (outer, name.0);
    }
    let (file, line) =
        match location.and_then(|l| l.rsplit_once(":line ").or_else(|| l.rsplit_once(':'))) {
            Some((file, line)) => (Some(file.to_owned()), line.trim().parse().ok()),
            None => (location.map(str::to_owned), None),
        };
    let framework = FRAMEWORKS.iter().any(|p| module.starts_with(p));
    Some(Frame {
        in_app: in_app.by_prefix(module).unwrap_or(!framework),
        module: module.to_owned(),
        function: function.to_owned(),
        file,
        line,
    })
}
