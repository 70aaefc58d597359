//! Users' grouping rules (`[[grouping.rules]]`, docs/grouping.md §3): the first thing that
//! decides a group. A rule matches on the exception type, its message, a frame's module or
//! function, or the event's logger (each a glob: exact text, `prefix*`, `*part*`), and either
//! sets the fingerprint or marks the frames it matches in-app or not.
//!
//! ```toml
//! [[grouping.rules]]
//! type = "java.sql.SQLTransientConnectionException"
//! fingerprint = ["database-unavailable"]
//!
//! [[grouping.rules]]
//! type = "*TimeoutException"
//! fingerprint = ["{{ default }}", "{{ message }}"]   # split the default group by message
//!
//! [[grouping.rules]]
//! module = "com.acme.util.*"
//! in_app = false
//! ```

use glob::Pattern;
use serde::Deserialize;

use crate::event::{Event, ExceptionInfo, Frame};

/// A rule as written in the config.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    #[serde(rename = "type")]
    pub ty: Option<String>,
    pub message: Option<String>,
    pub module: Option<String>,
    pub function: Option<String>,
    pub logger: Option<String>,
    /// The fingerprint's components; `{{ default }}`, `{{ type }}`, `{{ message }}` and
    /// `{{ logger }}` stand for the default components, the root type, its parameterised
    /// message and the logger.
    pub fingerprint: Option<Vec<String>>,
    /// Marks the frames the rule matches in-app (`true`) or not.
    pub in_app: Option<bool>,
}

/// A validated rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// 1-based, in config order: named in `explain`.
    number: usize,
    ty: Option<Pattern>,
    message: Option<Pattern>,
    module: Option<Pattern>,
    function: Option<Pattern>,
    logger: Option<Pattern>,
    action: Action,
}

#[derive(Debug, Clone)]
enum Action {
    Fingerprint(Vec<Part>),
    InApp(bool),
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Text(String),
    Default,
    Type,
    Message,
    Logger,
}

/// The rules of a config, in order.
#[derive(Debug, Clone, Default)]
pub struct Rules(Vec<Rule>);

impl Rules {
    /// Validates `configs`; the error says which rule (1-based) and why.
    pub fn new(configs: &[RuleConfig]) -> Result<Rules, String> {
        configs
            .iter()
            .enumerate()
            .map(|(i, c)| Rule::new(i + 1, c).map_err(|e| format!("grouping rule {}: {e}", i + 1)))
            .collect::<Result<Vec<_>, _>>()
            .map(Rules)
    }

    /// Applies the in-app rules to every frame of `chain`.
    pub fn mark_frames(&self, event: &Event, chain: &mut [ExceptionInfo]) {
        for rule in &self.0 {
            let Action::InApp(in_app) = rule.action else {
                continue;
            };
            if !rule.matches_event(event, chain) {
                continue;
            }
            for frame in chain.iter_mut().flat_map(|e| e.frames.to_mut().iter_mut()) {
                if rule.matches_frame(frame) {
                    frame.in_app = in_app;
                }
            }
        }
    }

    /// The components the first matching fingerprint rule gives, `default` standing for the
    /// default components; `None` when no rule matches.
    pub fn fingerprint(
        &self,
        event: &Event,
        chain: &[ExceptionInfo],
        default: &[String],
        template: &str,
    ) -> Option<Vec<String>> {
        self.0.iter().find_map(|rule| {
            let Action::Fingerprint(parts) = &rule.action else {
                return None;
            };
            let frames_match = rule.module.is_none() && rule.function.is_none()
                || chain
                    .iter()
                    .flat_map(|e| &e.frames)
                    .any(|f| rule.matches_frame(f));
            if !rule.matches_event(event, chain) || !frames_match {
                return None;
            }
            let root = chain.last().map_or("", |e| e.ty.as_str());
            let mut out = vec![format!("rule:{}", rule.number)];
            for part in parts {
                match part {
                    Part::Text(text) => out.push(format!("value:{text}")),
                    Part::Default => out.extend(default.iter().cloned()),
                    Part::Type => out.push(format!("type:{root}")),
                    Part::Message => out.push(format!("message:{template}")),
                    Part::Logger => {
                        out.push(format!("logger:{}", event.logger.as_deref().unwrap_or("")))
                    }
                }
            }
            Some(out)
        })
    }
}

impl Rule {
    fn new(number: usize, c: &RuleConfig) -> Result<Rule, String> {
        let glob = |what: &str, p: &Option<String>| {
            p.as_deref()
                .map(|p| Pattern::new(p).map_err(|e| format!("{what} {p:?}: {e}")))
                .transpose()
        };
        let action = match (&c.fingerprint, c.in_app) {
            (Some(_), Some(_)) => return Err("set either fingerprint or in_app, not both".into()),
            (None, None) => return Err("set fingerprint or in_app".into()),
            (None, Some(in_app)) => Action::InApp(in_app),
            (Some(parts), None) if parts.is_empty() => {
                return Err("the fingerprint needs at least one value".into());
            }
            (Some(parts), None) => Action::Fingerprint(
                parts
                    .iter()
                    .map(|p| Part::parse(p))
                    .collect::<Result<_, _>>()?,
            ),
        };
        let rule = Rule {
            number,
            ty: glob("type", &c.ty)?,
            message: glob("message", &c.message)?,
            module: glob("module", &c.module)?,
            function: glob("function", &c.function)?,
            logger: glob("logger", &c.logger)?,
            action,
        };
        let matchers = [
            &rule.ty,
            &rule.message,
            &rule.module,
            &rule.function,
            &rule.logger,
        ];
        if matchers.iter().all(|m| m.is_none()) {
            return Err("match on at least one of type, message, module, function, logger".into());
        }
        if matches!(rule.action, Action::InApp(_))
            && rule.module.is_none()
            && rule.function.is_none()
        {
            return Err("an in_app rule marks frames: give it a module or a function".into());
        }
        Ok(rule)
    }

    /// Type and message match some exception of the chain, the logger the event's.
    fn matches_event(&self, event: &Event, chain: &[ExceptionInfo]) -> bool {
        let any = |p: &Option<Pattern>, value: fn(&ExceptionInfo) -> &str| {
            p.as_ref()
                .is_none_or(|p| chain.iter().any(|e| p.matches(value(e))))
        };
        any(&self.ty, |e| &e.ty)
            && any(&self.message, |e| &e.message)
            && self
                .logger
                .as_ref()
                .is_none_or(|p| p.matches(event.logger.as_deref().unwrap_or("")))
    }

    fn matches_frame(&self, frame: &Frame) -> bool {
        self.module
            .as_ref()
            .is_none_or(|p| p.matches(&frame.module))
            && self
                .function
                .as_ref()
                .is_none_or(|p| p.matches(&frame.function))
    }
}

impl Part {
    fn parse(text: &str) -> Result<Part, String> {
        let Some(inner) = text.strip_prefix("{{").and_then(|t| t.strip_suffix("}}")) else {
            return Ok(Part::Text(text.to_owned()));
        };
        match inner.trim() {
            "default" => Ok(Part::Default),
            "type" => Ok(Part::Type),
            "message" => Ok(Part::Message),
            "logger" => Ok(Part::Logger),
            other => Err(format!(
                "unknown fingerprint variable {{{{ {other} }}}} (default, type, message, logger)"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::ConfigFile;
    use crate::event::Event;
    use crate::fold::tests::fold_with;
    use crate::fold::{Analyzer, FoldSettings};

    fn analyzer(config: &str) -> Result<Analyzer, String> {
        let file = ConfigFile::parse(config).map_err(|e| e.to_string())?;
        let settings = file
            .settings(Some("UTC"), 1, 2024)
            .map_err(|e| e.to_string())?;
        Ok(settings.analyzer)
    }

    fn analysed(analyzer: &Analyzer, text: &str) -> Vec<Event> {
        let (mut events, _) = fold_with(text, FoldSettings::default());
        for e in &mut events {
            e.exception = None;
            analyzer.analyse(e);
        }
        events
    }

    const POOL: &str = "2024-03-01 10:00:00,000 WARN [scheduling-1] c.a.b.ReconcileJob - run 17 aborted
java.sql.SQLTransientConnectionException: HikariPool-1 - Connection is not available, request timed out after 30004ms.
\tat com.zaxxer.hikari.pool.HikariPool.getConnection(HikariPool.java:197)
\tat com.acme.billing.jobs.ReconcileJob.run(ReconcileJob.java:38)
2024-03-01 10:00:05,000 ERROR [http-nio-1] c.a.b.OrderController - order 4711 failed
java.sql.SQLTransientConnectionException: HikariPool-1 - Connection is not available, request timed out after 30001ms.
\tat com.zaxxer.hikari.pool.HikariPool.getConnection(HikariPool.java:197)
\tat com.acme.util.Db.connect(Db.java:12)
\tat com.acme.billing.web.OrderController.charge(OrderController.java:51)
2024-03-01 10:00:09,000 ERROR [http-nio-2] c.a.b.OrderController - order 4712 failed
java.util.concurrent.TimeoutException: payment gateway did not answer in 5000 ms
\tat com.acme.billing.web.OrderController.charge(OrderController.java:60)
2024-03-01 10:00:10,000 ERROR [http-nio-3] c.a.b.OrderController - order 4713 failed
java.util.concurrent.TimeoutException: card service did not answer in 5000 ms
\tat com.acme.billing.web.OrderController.charge(OrderController.java:60)";

    fn fingerprints(events: &[Event]) -> Vec<String> {
        events
            .iter()
            .map(|e| e.exception.as_ref().unwrap().fingerprint.clone())
            .collect()
    }

    #[test]
    fn a_rule_sets_the_fingerprint_before_the_stack_does() {
        let default = fingerprints(&analysed(&analyzer("").unwrap(), POOL));
        assert_ne!(default[0], default[1], "different in-app paths, two groups");
        assert_eq!(default[2], default[3], "same path, one group");

        let rules = analyzer(
            r#"
[[grouping.rules]]
type = "java.sql.SQLTransient*"
fingerprint = ["database-unavailable"]

[[grouping.rules]]
type = "*TimeoutException"
fingerprint = ["{{ default }}", "{{ message }}"]
"#,
        )
        .unwrap();
        let events = analysed(&rules, POOL);
        let by_rule = fingerprints(&events);
        assert_eq!(
            by_rule[0], by_rule[1],
            "one group for the database being away"
        );
        assert_eq!(
            events[0].exception.as_ref().unwrap().explain,
            ["rule:1", "value:database-unavailable"]
        );
        assert_ne!(by_rule[2], by_rule[3], "the timeouts split by message");
        assert!(
            events[2]
                .exception
                .as_ref()
                .unwrap()
                .explain
                .contains(&"message:payment gateway did not answer in <num> ms".to_owned())
        );
    }

    #[test]
    fn a_rule_marks_frames_in_app_or_not() {
        let rules =
            analyzer("[[grouping.rules]]\nmodule = \"com.acme.util.*\"\nin_app = false\n").unwrap();
        let events = analysed(&rules, POOL);
        let frames = &events[1].exception.as_ref().unwrap().chain[0].frames;
        assert!(!frames[1].in_app && frames[2].in_app);
        let explain = &events[1].exception.as_ref().unwrap().explain;
        assert!(
            !explain.iter().any(|c| c.contains("com.acme.util")),
            "{explain:?}"
        );
    }

    /// Events whose traces share their frame lines share their frames (see
    /// `exception::runs`): a rule that marks the frames of one of them leaves the others',
    /// before and after it, as they were read.
    #[test]
    fn a_rule_marks_the_frames_of_its_events_only() {
        let rules = analyzer(
            "[[grouping.rules]]\nmessage = \"*4712*\"\nmodule = \"com.acme.util.*\"\nin_app = false\n",
        )
        .unwrap();
        let trace = "\njava.lang.IllegalStateException: order ORDER failed
\tat com.acme.util.Db.connect(Db.java:12)
\tat com.acme.billing.web.OrderController.charge(OrderController.java:51)";
        let log: String = (4711..=4713)
            .map(|n| {
                format!(
                    "2024-03-01 10:00:0{},000 ERROR [t] c.a.b.X - failed{trace}\n",
                    n - 4711
                )
                .replace("ORDER", &n.to_string())
            })
            .collect();
        let events = analysed(&rules, &log);
        let util_in_app: Vec<bool> = events
            .iter()
            .map(|e| e.exception.as_ref().unwrap().chain[0].frames[0].in_app)
            .collect();
        assert_eq!(util_in_app, [true, false, true]);
    }

    #[test]
    fn bad_rules_are_config_errors_that_say_which_and_why() {
        let cases = [
            (
                "type = \"X\"\nfingerprint = [\"{{ stack }}\"]",
                "unknown fingerprint variable",
            ),
            (
                "type = \"X\"\nfingerprint = [\"a\"]\nin_app = true",
                "either fingerprint or in_app",
            ),
            ("fingerprint = [\"a\"]", "match on at least one"),
            (
                "type = \"X\"\nin_app = true",
                "give it a module or a function",
            ),
            ("type = \"[\"\nfingerprint = [\"a\"]", "type \"[\""),
            ("type = \"X\"\nfingerprint = []", "at least one value"),
        ];
        for (rule, expected) in cases {
            let config =
                format!("[[grouping.rules]]\nlogger = \"a\"\n[[grouping.rules]]\n{rule}\n")
                    .replace(
                        "logger = \"a\"\n",
                        "logger = \"a\"\nfingerprint = [\"ok\"]\n",
                    );
            let err = analyzer(&config).unwrap_err();
            assert!(
                err.contains("grouping rule 2") && err.contains(expected),
                "{rule}: {err}"
            );
        }
        let err = analyzer("[[grouping.rules]]\ntype = \"X\"\nfingerprnt = [\"a\"]\n").unwrap_err();
        assert!(
            err.contains("fingerprnt") && err.contains("line 3"),
            "{err}"
        );
    }
}
