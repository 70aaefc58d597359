//! Query text and filters into one tantivy query.

use std::ops::Bound;

use jiff::Timestamp;
use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, EmptyQuery, ExistsQuery, Occur, Query, QueryParser,
    QueryParserError, RangeQuery, TermQuery,
};
use tantivy::query_grammar::{self, UserInputAst, UserInputLeaf};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{Score, Searcher, Term};

use super::group_stats::{KeyField, PATTERN};
use crate::index::Fields;
use crate::index::blocks::{BlockSearch, NamesABlock};
use crate::index::files;
use crate::index::schema::to_date;

/// Restrictions on top of the query text. Several values of one field are alternatives.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters {
    /// Inclusive lower bound.
    pub from: Option<Timestamp>,
    /// Exclusive upper bound.
    pub to: Option<Timestamp>,
    pub app: Vec<String>,
    pub env: Vec<String>,
    pub host: Vec<String>,
    pub tag: Vec<String>,
    pub logtype: Vec<String>,
    /// Levels, matched case-insensitively.
    pub level: Vec<String>,
    pub fingerprint: Vec<String>,
    /// Pattern ids (see [`crate::fold::pattern`]).
    pub pattern: Vec<String>,
    /// Only events that hold an exception.
    pub exceptions_only: bool,
    /// Only events without a timestamp (the tail of a newest-first listing).
    pub untimed_only: bool,
    /// Only events indexed in the batches after the first number up to the second (see
    /// `Fields::ingested`): what the live view has not sent yet.
    pub ingested: Option<(u64, u64)>,
}

impl Filters {
    /// These filters, narrowed to the events whose `field` (fingerprint or pattern) is one
    /// of `values`.
    pub(super) fn with_keys(self, field: KeyField, values: Vec<String>) -> Filters {
        if field == PATTERN {
            Filters {
                pattern: values,
                ..self
            }
        } else {
            Filters {
                fingerprint: values,
                ..self
            }
        }
    }
}

/// Why a query could not be built or run.
#[derive(Debug, Clone, thiserror::Error)]
pub enum QueryError {
    /// The query text does not parse; `position` is a byte offset when known.
    #[error("query syntax: {message}")]
    Syntax {
        message: String,
        position: Option<usize>,
    },
    /// A parameter is out of range or malformed.
    #[error("{0}")]
    BadParameter(String),
    /// The index failed.
    #[error("index")]
    Index(#[from] tantivy::TantivyError),
}

impl From<super::time::TimeError> for QueryError {
    fn from(err: super::time::TimeError) -> Self {
        QueryError::BadParameter(crate::error::Chain(&err).to_string())
    }
}

/// Longest query text: a page of query is plenty, and the parser's work grows with it.
pub const MAX_QUERY_BYTES: usize = 8192;
/// Deepest nesting of parentheses, and most unary operators (`NOT`, `-`, `+`): tantivy's
/// parser recurses once for each, and 800 of them overflowed a 2 MiB thread stack and aborted
/// the server. People write a handful.
pub const MAX_QUERY_NESTING: usize = 32;
pub const MAX_QUERY_UNARY: usize = 64;

/// Refuses query text the parser could not take without exhausting its stack, before parsing.
fn check_shape(text: &str) -> Result<(), QueryError> {
    let bad = |message: String| QueryError::BadParameter(message);
    if text.len() > MAX_QUERY_BYTES {
        return Err(bad(format!(
            "the query is {} bytes long; at most {MAX_QUERY_BYTES}",
            text.len()
        )));
    }
    let (mut depth, mut deepest, mut unary) = (0usize, 0usize, 0usize);
    let mut in_quotes = false;
    let mut word_start = true;
    let bytes = text.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'"' => in_quotes = !in_quotes,
            _ if in_quotes => {}
            b'(' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b')' => depth = depth.saturating_sub(1),
            b'-' | b'+' if word_start => unary += 1,
            b'N' if word_start && is_not(&text[i..]) => unary += 1,
            _ => {}
        }
        word_start = matches!(b, b' ' | b'\t' | b'(' | b'-' | b'+' | b':');
    }
    if deepest > MAX_QUERY_NESTING {
        return Err(bad(format!(
            "the query nests parentheses {deepest} deep; at most {MAX_QUERY_NESTING}"
        )));
    }
    if unary > MAX_QUERY_UNARY {
        return Err(bad(format!(
            "the query has {unary} NOT, - or + operators; at most {MAX_QUERY_UNARY}"
        )));
    }
    Ok(())
}

/// Whether `rest` starts with the operator `NOT` (not a word like `NOTE`).
fn is_not(rest: &str) -> bool {
    rest.strip_prefix("NOT")
        .is_some_and(|after| after.is_empty() || after.starts_with([' ', '\t', '(']))
}

/// Builds the query for `text` (tantivy's query language; empty or `*` matches everything)
/// restricted by `filters`, over the events `searcher` sees; with `blocks`, what the query
/// asks of the body is also asked of the frame blocks the events name (see
/// [`crate::index::blocks`]).
pub fn build(
    parser: &QueryParser,
    fields: &Fields,
    searcher: &Searcher,
    text: &str,
    filters: &Filters,
    blocks: Option<&BlockSearch>,
) -> Result<Box<dyn Query>, QueryError> {
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    let text = text.trim();
    if !text.is_empty() && text != "*" {
        check_shape(text)?;
        let text = rewrite_wildcards(text);
        let (ast, errors) = query_grammar::parse_query_lenient(&text);
        if let Some(err) = errors.into_iter().next() {
            return Err(syntax_error(QueryParserError::SyntaxError(format!(
                "{} at position {}",
                err.message, err.pos
            ))));
        }
        let mut errors = Vec::new();
        let query = Builder {
            parser,
            blocks,
            block: fields.block,
            searcher,
            file: fields.file,
            errors: &mut errors,
        }
        .query(ast)?;
        if let Some(err) = errors.into_iter().next() {
            return Err(syntax_error(err));
        }
        let nothing = || Box::new(EmptyQuery) as Box<dyn Query>;
        clauses.push((Occur::Must, query.unwrap_or_else(nothing)));
    }
    if filters.from.is_some() || filters.to.is_some() {
        let bound = |ts: Option<Timestamp>, inclusive: bool| match ts {
            None => Bound::Unbounded,
            Some(ts) if inclusive => Bound::Included(Term::from_field_date(fields.ts, to_date(ts))),
            Some(ts) => Bound::Excluded(Term::from_field_date(fields.ts, to_date(ts))),
        };
        let range = RangeQuery::new(bound(filters.from, true), bound(filters.to, false));
        clauses.push((Occur::Must, Box::new(range)));
    }
    let levels: Vec<String> = filters.level.iter().map(|l| normalise_level(l)).collect();
    for (part, values) in [
        ("app", &filters.app),
        ("env", &filters.env),
        ("host", &filters.host),
        ("tag", &filters.tag),
        ("logtype", &filters.logtype),
    ] {
        if !values.is_empty() {
            let wanted = PartMatch::In(values.clone());
            clauses.push((
                Occur::Must,
                part_query(searcher, fields.file, part, &wanted)?,
            ));
        }
    }
    for (field, values) in [
        (fields.level, &levels),
        (fields.fingerprint, &filters.fingerprint),
        (fields.pattern, &filters.pattern),
    ] {
        if let Some(q) = any_of(field, values) {
            clauses.push((Occur::Must, q));
        }
    }
    if let Some((after, upto)) = filters.ingested {
        let lower = Term::from_field_u64(fields.ingested, after);
        let upper = Term::from_field_u64(fields.ingested, upto);
        let range = RangeQuery::new(Bound::Excluded(lower), Bound::Included(upper));
        clauses.push((Occur::Must, Box::new(range)));
    }
    if filters.exceptions_only {
        // Every exception event has a fingerprint; the fast field says which, with no term to index.
        let exists = ExistsQuery::new("fingerprint".to_owned(), false);
        clauses.push((Occur::Must, Box::new(exists)));
    }
    if filters.untimed_only {
        let timed = ExistsQuery::new("ts".to_owned(), false);
        clauses.push((Occur::Must, Box::new(AllQuery)));
        clauses.push((Occur::MustNot, Box::new(timed)));
    }
    Ok(match clauses.len() {
        0 => Box::new(AllQuery),
        1 => clauses.pop().expect("one clause").1,
        _ => Box::new(BooleanQuery::new(clauses)),
    })
}

/// Builds the query of tantivy's user AST: each leaf by tantivy's parser, the groups here,
/// so that a leaf can also match the events that name a frame block.
struct Builder<'a> {
    parser: &'a QueryParser,
    blocks: Option<&'a BlockSearch>,
    block: Field,
    searcher: &'a Searcher,
    file: Field,
    errors: &'a mut Vec<QueryParserError>,
}

/// What a query asks of one of the file's values (see [`files`]), as tantivy would have read
/// it of a keyword field of its own.
enum PartMatch {
    Equals(String),
    Prefix(String),
    In(Vec<String>),
    /// Anchored at both ends, as tantivy's regex queries are.
    Regex(regex::Regex),
    Range(Bound<String>, Bound<String>),
    Exists,
}

impl PartMatch {
    /// What `leaf` asks, and of which part; `None` for a leaf on another field.
    fn of(leaf: &UserInputLeaf) -> Result<Option<(&'static str, PartMatch)>, QueryError> {
        let part = |field: Option<&str>| field.and_then(files::part).map(|at| files::PARTS[at]);
        Ok(match leaf {
            UserInputLeaf::Literal(literal) => part(literal.field_name.as_deref()).map(|part| {
                let value = literal.phrase.clone();
                let wanted = if literal.prefix {
                    PartMatch::Prefix(value)
                } else {
                    PartMatch::Equals(value)
                };
                (part, wanted)
            }),
            UserInputLeaf::Regex { field, pattern } => match part(field.as_deref()) {
                Some(part) => {
                    let regex = regex::Regex::new(&format!("^(?:{pattern})$")).map_err(|err| {
                        QueryError::Syntax {
                            message: format!("the regex /{pattern}/ on {part}: {err}"),
                            position: None,
                        }
                    })?;
                    Some((part, PartMatch::Regex(regex)))
                }
                None => None,
            },
            UserInputLeaf::Set { field, elements } => {
                part(field.as_deref()).map(|part| (part, PartMatch::In(elements.clone())))
            }
            UserInputLeaf::Range {
                field,
                lower,
                upper,
            } => {
                let bound = |b: &query_grammar::UserInputBound| match b {
                    query_grammar::UserInputBound::Inclusive(v) => Bound::Included(v.clone()),
                    query_grammar::UserInputBound::Exclusive(v) => Bound::Excluded(v.clone()),
                    query_grammar::UserInputBound::Unbounded => Bound::Unbounded,
                };
                part(field.as_deref())
                    .map(|part| (part, PartMatch::Range(bound(lower), bound(upper))))
            }
            UserInputLeaf::Exists { field } => {
                part(Some(field)).map(|part| (part, PartMatch::Exists))
            }
            UserInputLeaf::All => None,
        })
    }

    fn matches(&self, value: Option<&str>) -> bool {
        let Some(value) = value else {
            return false;
        };
        match self {
            PartMatch::Equals(wanted) => value == wanted,
            PartMatch::Prefix(prefix) => value.starts_with(prefix.as_str()),
            PartMatch::In(values) => values.iter().any(|v| v == value),
            PartMatch::Regex(regex) => regex.is_match(value),
            PartMatch::Range(lower, upper) => {
                let above = match lower {
                    Bound::Included(low) => value >= low.as_str(),
                    Bound::Excluded(low) => value > low.as_str(),
                    Bound::Unbounded => true,
                };
                let below = match upper {
                    Bound::Included(high) => value <= high.as_str(),
                    Bound::Excluded(high) => value < high.as_str(),
                    Bound::Unbounded => true,
                };
                above && below
            }
            PartMatch::Exists => true,
        }
    }
}

/// The events whose file value `part` is as `wanted` asks: the `file` terms that say so.
fn part_query(
    searcher: &Searcher,
    file: Field,
    part: &str,
    wanted: &PartMatch,
) -> Result<Box<dyn Query>, QueryError> {
    let at = files::part(part).expect("a file part");
    let terms = files::terms_where(searcher, file, at, |value| wanted.matches(value))?;
    Ok(match terms.len() {
        0 => Box::new(EmptyQuery),
        1 => Box::new(TermQuery::new(
            terms.into_iter().next().expect("one term"),
            IndexRecordOption::Basic,
        )),
        _ => Box::new(tantivy::query::TermSetQuery::new(terms)),
    })
}

impl Builder<'_> {
    /// The query of `ast`; `None` for what asks nothing (a leaf without a word, `!!!`), which
    /// its group leaves out, as tantivy's own reading does; a text that asks nothing at all
    /// matches nothing.
    fn query(&mut self, ast: UserInputAst) -> Result<Option<Box<dyn Query>>, QueryError> {
        Ok(match ast {
            UserInputAst::Clause(clauses) => {
                let mut parts: Vec<(Occur, Box<dyn Query>)> = Vec::new();
                for (occur, ast) in clauses {
                    if let Some(query) = self.query(ast)? {
                        // Words are ANDed by default.
                        parts.push((occur.unwrap_or(Occur::Must), query));
                    }
                }
                // A group of only negations matches the events without them, as Kibana's
                // query string does (`x AND NOT y` is `x` and a group holding `NOT y`; the
                // UI's filter-out writes it). tantivy's own reading matched nothing.
                if !parts.is_empty() && parts.iter().all(|(occur, _)| *occur == Occur::MustNot) {
                    parts.insert(0, (Occur::Must, Box::new(AllQuery)));
                }
                match parts.len() {
                    0 => None,
                    1 if parts[0].0 != Occur::MustNot => parts.pop().map(|(_, query)| query),
                    _ => Some(Box::new(BooleanQuery::new(parts))),
                }
            }
            UserInputAst::Boost(ast, boost) => self.query(*ast)?.map(|query| {
                Box::new(BoostQuery::new(query, boost.into_inner() as Score)) as Box<dyn Query>
            }),
            UserInputAst::Leaf(leaf) => {
                if let Some((part, wanted)) = PartMatch::of(&leaf)? {
                    return Ok(Some(part_query(self.searcher, self.file, part, &wanted)?));
                }
                // The fields whose values of an exception event are in the blocks index.
                let in_blocks = |field: Option<&str>| {
                    field.is_none_or(|f| matches!(f, "body" | "exc_types" | "frames"))
                };
                let on_body = match &*leaf {
                    UserInputLeaf::Literal(literal) => in_blocks(literal.field_name.as_deref()),
                    UserInputLeaf::Regex { field, .. } => {
                        field.is_some() && in_blocks(field.as_deref())
                    }
                    _ => false,
                };
                let leaf = UserInputAst::Leaf(leaf);
                // A word on the body is also found in the frame blocks the events name, and
                // one on `exc_types` or `frames` in their traces (see
                // `crate::index::blocks`): `body:X OR block:[blocks matching X]`.
                let named = match self.blocks {
                    Some(blocks) if on_body => blocks.matching(&leaf)?,
                    _ => None,
                };
                let (query, mut errors) = self.parser.build_query_from_user_input_ast_lenient(leaf);
                self.errors.append(&mut errors);
                let asks_nothing = query.downcast_ref::<EmptyQuery>().is_some();
                match named {
                    Some(named) => Some(Box::new(BooleanQuery::new(vec![
                        (Occur::Should, query),
                        (Occur::Should, Box::new(NamesABlock::new(self.block, named))),
                    ])) as Box<dyn Query>),
                    None if asks_nothing => None,
                    None => Some(query),
                }
            }
        })
    }
}

/// Fields indexed whole (one term per value): a wildcard there is a regex over the value.
const KEYWORD_FIELDS: &[&str] = &[
    "logger",
    "level",
    "thread",
    "app",
    "env",
    "tag",
    "host",
    "logtype",
    "date",
    "source",
    "root_type",
    "fingerprint",
    "pattern",
];

/// Turns words with `*` wildcards, which tantivy's grammar reads as plain words, into what
/// tantivy can run: on a keyword field (`logger:com.acme.*`) a regex over the whole value; on
/// text (`sess*`, `NullPoint*`) a regex over one token, or a phrase prefix when the word
/// splits into several tokens (`"null point"*`). Quoted phrases are left alone.
pub fn rewrite_wildcards(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let mut in_quotes = false;
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        out.push_str(&rewrite_word(word));
        word.clear();
    };
    for c in text.chars() {
        match c {
            '"' => {
                flush(&mut word, &mut out);
                in_quotes = !in_quotes;
                out.push(c);
            }
            c if in_quotes => out.push(c),
            ' ' | '(' | ')' => {
                flush(&mut word, &mut out);
                out.push(c);
            }
            c => word.push(c),
        }
    }
    flush(&mut word, &mut out);
    out
}

fn rewrite_word(word: &str) -> String {
    if !word.contains('*') || word == "*" || word.contains('/') || word.contains('[') {
        return word.to_owned();
    }
    let (prefix, field, value) = match word.split_once(':') {
        Some((field, value))
            if !field.is_empty()
                && field
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_') =>
        {
            let sign = if field.starts_with(['+', '-']) {
                &field[..1]
            } else {
                ""
            };
            (sign, field.trim_start_matches(['+', '-']), value)
        }
        _ => {
            let sign = if word.starts_with(['+', '-']) {
                &word[..1]
            } else {
                ""
            };
            (sign, "body", word.trim_start_matches(['+', '-']))
        }
    };
    if value.is_empty() || value == "*" {
        return word.to_owned();
    }
    let regex_of = |v: &str| {
        v.split('*')
            .map(regex::escape)
            .collect::<Vec<_>>()
            .join(".*")
    };
    if KEYWORD_FIELDS.contains(&field) {
        return format!("{prefix}{field}:/{}/", regex_of(value));
    }
    let tokens = code_tokens(value.trim_end_matches('*'));
    match tokens.as_slice() {
        [] => word.to_owned(),
        [_] if value.trim_end_matches('*').contains('*') => {
            let inner = value.to_lowercase();
            format!("{prefix}{field}:/{}/", regex_of(&inner))
        }
        [one] => format!("{prefix}{field}:/{}.*/", regex::escape(one)),
        many => format!("{prefix}{field}:\"{}\"*", many.join(" ")),
    }
}

fn code_tokens(text: &str) -> Vec<String> {
    use tantivy::tokenizer::{TokenStream, Tokenizer};
    let mut tokenizer = crate::index::tokenizer::CodeTokenizer::default();
    let mut stream = tokenizer.token_stream(text);
    let mut out = Vec::new();
    while let Some(token) = stream.next() {
        out.push(token.text.clone());
    }
    out
}

/// `warning` → `WARN`, `error` → `ERROR`: the names levels are indexed under.
fn normalise_level(level: &str) -> String {
    let upper = level.to_ascii_uppercase();
    crate::event::Level::from_word(&upper).map_or(upper, |l| l.as_str().to_owned())
}

/// Above this many values, a filter is a term set rather than a union of term queries.
const MANY_VALUES: usize = 16;

fn any_of(field: Field, values: &[String]) -> Option<Box<dyn Query>> {
    let term = |v: &String| -> Box<dyn Query> {
        Box::new(TermQuery::new(
            Term::from_field_text(field, v),
            IndexRecordOption::Basic,
        ))
    };
    match values {
        [] => None,
        [one] => Some(term(one)),
        few if few.len() <= MANY_VALUES => Some(Box::new(BooleanQuery::new(
            few.iter().map(|v| (Occur::Should, term(v))).collect(),
        ))),
        // Alerts ask for every group that has new events at once: one pass over a sorted
        // term set rather than a union of thousands of term queries.
        many => Some(Box::new(tantivy::query::TermSetQuery::new(
            many.iter().map(|v| Term::from_field_text(field, v)),
        ))),
    }
}

fn syntax_error(err: tantivy::query::QueryParserError) -> QueryError {
    let message = err.to_string();
    let position = message.rsplit_once("at position ").and_then(|(_, pos)| {
        pos.trim()
            .trim_end_matches(|c: char| !c.is_ascii_digit())
            .parse()
            .ok()
    });
    QueryError::Syntax { message, position }
}

#[cfg(test)]
mod tests {
    use super::rewrite_wildcards as w;

    #[test]
    fn wildcards_become_regexes_or_phrase_prefixes() {
        assert_eq!(w("sess*"), "body:/sess.*/");
        assert_eq!(w("NullPoint*"), "body:\"null point\"*");
        assert_eq!(w("logger:com.acme.*"), "logger:/com\\.acme\\..*/");
        assert_eq!(w("level:ERR*"), "level:/ERR.*/");
        assert_eq!(w("-sess* AND (timeout)"), "-body:/sess.*/ AND (timeout)");
        assert_eq!(w("\"a* b\" x"), "\"a* b\" x");
        assert_eq!(w("plain words"), "plain words");
        assert_eq!(w("*"), "*");
    }
}
