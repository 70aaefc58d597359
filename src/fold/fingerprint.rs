//! The fingerprint (docs/grouping.md §3, §4): which events are the same problem, and why.
//!
//! Components are hashed in order with XXH3-128. They never include line numbers, thread
//! names or the variable parts of messages, and generated class and method names are
//! normalised, so a redeploy does not split a group.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::Regex;
use xxhash_rust::xxh3::Xxh3;

use crate::event::{ExceptionInfo, Frames, Language};

/// Bumped whenever a change to these rules would move an event to another group; stored with
/// every event so old data can be re-grouped rather than silently split.
///
/// 2: frameless JVM exceptions are exceptions; a Java type followed by prose is the class
/// alone; a `Caused by:` with no frame anywhere is not an exception.
pub const GROUPING_VERSION: u32 = 2;

/// How many frames stand for the stack when none of it is in-app.
const TOP_FRAMES_WITHOUT_IN_APP: usize = 5;

/// Which exception of the chain leads the fingerprint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GroupBy {
    /// The root cause, with the outer exceptions' types (the default).
    #[default]
    Root,
    /// The outermost exception, with the inner exceptions' types.
    Outermost,
    /// Every exception of the chain with its frames.
    Chain,
}

/// The components of the fingerprint, in hashing order, each as `kind:value`.
pub fn components(language: Language, chain: &[ExceptionInfo], by: GroupBy) -> Vec<String> {
    let mut out = vec![format!("language:{}", language.as_str())];
    match by {
        GroupBy::Chain => {
            for exc in chain {
                out.push(format!("type:{}", exc.ty));
                push_frames(&mut out, language, std::slice::from_ref(exc), 0);
            }
        }
        GroupBy::Root | GroupBy::Outermost => {
            let lead = if by == GroupBy::Root {
                chain.len() - 1
            } else {
                0
            };
            let other = if by == GroupBy::Root {
                "outer"
            } else {
                "inner"
            };
            for (_, exc) in chain.iter().enumerate().filter(|(i, _)| *i != lead) {
                out.push(format!("{other}:{}", exc.ty));
            }
            out.push(format!("type:{}", chain[lead].ty));
            push_frames(&mut out, language, chain, lead);
        }
    }
    out
}

/// The frames that stand for the stack: the lead exception's in-app frames, else those of the
/// exception nearest to it that has any, else the lead's top frames, else its parameterised
/// message.
fn push_frames(out: &mut Vec<String>, language: Language, chain: &[ExceptionInfo], lead: usize) {
    let nearest_first = std::iter::once(lead).chain((0..chain.len()).rev().filter(|&i| i != lead));
    let in_app = nearest_first
        .clone()
        .find(|&i| chain[i].frames.iter().any(|f| f.in_app));
    if let Some(i) = in_app {
        return push_names(out, language, &chain[i].frames, true);
    }
    match nearest_first
        .into_iter()
        .find(|&i| !chain[i].frames.is_empty())
    {
        Some(i) => push_names(out, language, &chain[i].frames, false),
        None => out.push(format!(
            "message:{}",
            super::template::parameterize(&chain[lead].message)
        )),
    }
}

/// `frame:` and the normalised `module.function` of each frame, consecutive repeats
/// (recursion) collapsed; of the in-app frames only, or of the top ones.
///
/// Remembered per thread for the last frames seen, by their identity: frames shared by the
/// events of one trace (see [`crate::event::Frames`]) give their names once.
fn push_names(out: &mut Vec<String>, language: Language, frames: &Frames, in_app: bool) {
    struct Slot {
        frames: Frames,
        language: Language,
        in_app: bool,
        names: Vec<String>,
    }
    std::thread_local! {
        static RECENT: std::cell::RefCell<Vec<Option<Slot>>> =
            const { std::cell::RefCell::new(Vec::new()) };
    }
    const SLOTS: usize = 256;
    RECENT.with_borrow_mut(|recent| {
        if recent.is_empty() {
            recent.resize_with(SLOTS, || None);
        }
        // The slot holds the frames, so no other frames take their identity meanwhile.
        let slot = &mut recent[(frames.identity() >> 4) % SLOTS];
        let hit = slot.as_ref().filter(|s| {
            s.frames.is_shared_with(frames) && s.language == language && s.in_app == in_app
        });
        if let Some(seen) = hit {
            out.extend(seen.names.iter().cloned());
            return;
        }
        let chosen = frames.iter().filter(|f| f.in_app || !in_app);
        let chosen = chosen.take(if in_app {
            usize::MAX
        } else {
            TOP_FRAMES_WITHOUT_IN_APP
        });
        let mut names: Vec<String> = Vec::new();
        for frame in chosen {
            let name = match language {
                Language::Java => format!(
                    "frame:{}.{}",
                    normalize_jvm(&frame.module),
                    normalize_jvm(&frame.function)
                ),
                _ => format!("frame:{}.{}", frame.module, frame.function),
            };
            if names.last() != Some(&name) {
                names.push(name);
            }
        }
        out.extend(names.iter().cloned());
        *slot = Some(Slot {
            frames: frames.clone(),
            language,
            in_app,
            names,
        });
    })
}

/// Generated JVM names: lambdas, reflection accessors, CGLIB/ByteBuddy/Javassist/Hibernate
/// proxies and JDK dynamic proxies, whose numbers and hashes change on every deploy.
static GENERATED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?P<lambda>\$\$Lambda(?:\$\d+)?(?:/0x[0-9a-fA-F]+)?|\blambda\$[\w$]*?\$\d+",
        r"|\$anonfun\$[\w$]*?\$\d+(?:\$adapted)?)",
        r"|(?P<auto>Generated(?:Serialization)?(?:Method|Constructor)Accessor\d+",
        r"|\$\$(?:EnhancerBy(?:Spring)?CGLIB|FastClassBy(?:Spring)?CGLIB|SpringCGLIB)\$\$\w+",
        r"|_\$\$_javassist_\w+|\$Proxy\d+|\$HibernateProxy\$\w+|\$ByteBuddy\$\w+",
        r"|\$MockitoMock\$\w+)",
    ))
    .expect("the generated-name regex is valid")
});

/// `Foo$$Lambda$123/0x0000000800c0b448` → `Foo<lambda>`, `lambda$charge$3` → `<lambda>`,
/// `GeneratedMethodAccessor45` → `<auto>`, `Foo$$EnhancerBySpringCGLIB$$a1b2` → `Foo<auto>`.
pub fn normalize_jvm(name: &str) -> Cow<'_, str> {
    // Every generated name holds a `$` or `Generated`.
    if !name.contains('$') && !name.contains("Generated") {
        return Cow::Borrowed(name);
    }
    GENERATED.replace_all(name, |caps: &regex::Captures<'_>| {
        if caps.name("lambda").is_some() {
            "<lambda>"
        } else {
            "<auto>"
        }
    })
}

/// The fingerprint of the components: 32 lower-case hex digits.
pub fn hash(components: &[String]) -> String {
    let mut hasher = Xxh3::new();
    for (i, component) in components.iter().enumerate() {
        if i > 0 {
            hasher.update(b"\n");
        }
        hasher.update(component.as_bytes());
    }
    format!("{:032x}", hasher.digest128())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn norm(name: &str, want: &str) {
        assert_eq!(normalize_jvm(name), want, "{name}");
    }

    /// Fingerprints are kept in indexes and alerts: hashing the components one by one must
    /// give what hashing them joined by newlines always gave.
    #[test]
    fn the_hash_is_of_the_components_joined_by_newlines() {
        for components in [
            vec![],
            vec!["language:java".to_owned()],
            vec![
                "language:go".into(),
                "type:panic".into(),
                "frame:main.run".into(),
            ],
            vec!["".into(), "a\nb".into(), "".into()],
        ] {
            let joined = xxhash_rust::xxh3::xxh3_128(components.join("\n").as_bytes());
            assert_eq!(
                hash(&components),
                format!("{joined:032x}"),
                "{components:?}"
            );
        }
    }

    #[test]
    fn generated_names() {
        norm(
            "com.acme.Billing$$Lambda$123/0x0000000800c0b448",
            "com.acme.Billing<lambda>",
        );
        norm(
            "com.acme.Billing$$Lambda/0x000001f0010a1e20",
            "com.acme.Billing<lambda>",
        );
        norm("lambda$charge$3", "<lambda>");
        norm("lambda$null$0", "<lambda>");
        norm(
            "jdk.internal.reflect.GeneratedMethodAccessor45",
            "jdk.internal.reflect.<auto>",
        );
        norm(
            "sun.reflect.GeneratedConstructorAccessor7",
            "sun.reflect.<auto>",
        );
        norm(
            "sun.reflect.GeneratedSerializationConstructorAccessor12",
            "sun.reflect.<auto>",
        );
        norm(
            "com.acme.OrderService$$EnhancerBySpringCGLIB$$a1b2c3d4",
            "com.acme.OrderService<auto>",
        );
        norm(
            "com.acme.OrderService$$FastClassBySpringCGLIB$$9f8e",
            "com.acme.OrderService<auto>",
        );
        norm(
            "com.acme.OrderService$$SpringCGLIB$$0",
            "com.acme.OrderService<auto>",
        );
        norm("com.acme.Order_$$_javassist_12", "com.acme.Order<auto>");
        norm("jdk.proxy2.$Proxy45", "jdk.proxy2.<auto>");
        norm("com.sun.proxy.$Proxy123", "com.sun.proxy.<auto>");
        norm(
            "com.acme.Order$HibernateProxy$Xy12Ab",
            "com.acme.Order<auto>",
        );
        norm("com.acme.Order$ByteBuddy$abc123", "com.acme.Order<auto>");
        norm("$anonfun$close$4$adapted", "<lambda>");
        norm("$anonfun$resize$1", "<lambda>");
        norm("com.acme.Outer$Inner", "com.acme.Outer$Inner");
    }
}
