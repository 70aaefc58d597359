//! Stage 4, fold: lines into events, traces into exceptions, exceptions into groups.
//!
//! In: a file's lines in order, each with the header the parse stage found (or none). Out:
//! events in the same order, each with every line that belongs to it (docs/grouping.md §1),
//! and, for an event holding a trace, its exception chain and fingerprint (§2-§4).
//!
//! Guarantees: no line is lost (the events' texts, joined, give back the input); an event
//! over the line or byte cap is cut, marked `truncated`, and continues as the next event;
//! the last event comes out at end of input. This module is pure: no files, threads, clocks
//! or parsers, so its tests drive it line by line.

pub mod exception;
pub mod fingerprint;
mod folder;
pub mod groups;
pub mod pattern;
mod recent;
pub mod rules;
pub mod template;
pub mod trace;

pub use exception::{DEFAULT_JVM_FRAMEWORKS, InApp};
pub use fingerprint::{GROUPING_VERSION, GroupBy};
pub use folder::{
    DEFAULT_MAX_EVENT_BYTES, DEFAULT_MAX_EVENT_LINES, FoldCounters, FoldSettings, Folder, Line,
};

use crate::event::{Event, Exception};

/// Finds the exception in an event and computes its fingerprint.
#[derive(Debug, Clone, Default)]
pub struct Analyzer {
    pub in_app: InApp,
    pub group_by: GroupBy,
    /// Users' rules, applied before the default grouping.
    pub rules: rules::Rules,
    /// Users' masks and pinned templates, applied before the default pattern rules.
    pub patterns: pattern::PatternRules,
    /// No grouping config of one's own (and no `[fold] event_start`): the exceptions it
    /// finds are [`recomputable`](Exception::recomputable) from the text alone.
    pub standard: bool,
}

impl Analyzer {
    /// The analysis without config of one's own.
    pub fn standard() -> Analyzer {
        Analyzer {
            in_app: InApp::default(),
            group_by: GroupBy::default(),
            rules: rules::Rules::default(),
            patterns: pattern::PatternRules::default(),
            standard: true,
        }
    }

    /// Sets `event.exception` when the event holds a trace, else `event.pattern`.
    pub fn analyse(&self, event: &mut Event) {
        self.find_exception(event);
        event.pattern = match event.exception {
            Some(_) => None,
            None => Some(
                self.patterns
                    .pattern(pattern::groupable(&event.message, event.format)),
            ),
        };
    }

    /// Sets `event.exception` when the event holds a trace: [`Analyzer::analyse`] without
    /// the pattern.
    pub fn find_exception(&self, event: &mut Event) {
        if !might_hold_trace(event) {
            return;
        }
        let text = event.trace_text();
        let severe = is_severe(event);
        let Some((language, mut chain)) = exception::extract(&text, &self.in_app, severe) else {
            return;
        };
        self.rules.mark_frames(event, &mut chain);
        let default = fingerprint::components(language, &chain, self.group_by);
        let root = chain.last().expect("extract returns a non-empty chain");
        let template = template::parameterize(&root.message);
        let explain = self
            .rules
            .fingerprint(event, &chain, &default, &template)
            .unwrap_or(default);
        let exception = Exception {
            language,
            root_type: root.ty.clone(),
            template,
            fingerprint: fingerprint::hash(&explain),
            explain,
            grouping_version: GROUPING_VERSION,
            chain,
            recomputable: self.standard,
        };
        event.exception = Some(exception);
    }
}

/// Logged at ERROR or above.
fn is_severe(event: &Event) -> bool {
    event
        .level
        .is_some_and(|level| level >= crate::event::Level::Error)
}

/// A cheap test that skips the one-line events that make up most logs.
fn might_hold_trace(event: &Event) -> bool {
    event.lines > 1
        || event.stack_trace.is_some()
        || (is_severe(event) && trace::exception_head(&event.message).is_some())
        || memchr::memchr2(b'\\', b'#', event.message.as_bytes())
            .is_some_and(|_| event.message.contains("\\n") || event.message.contains("#012"))
}

#[cfg(test)]
mod runtimes_tests;
#[cfg(test)]
mod tests;
