//! Query text and filters into one tantivy query.

use std::ops::Bound;

use jiff::Timestamp;
use tantivy::Term;
use tantivy::query::{
    AllQuery, BooleanQuery, ExistsQuery, Occur, Query, QueryParser, RangeQuery, TermQuery,
};
use tantivy::schema::{Field, IndexRecordOption};

use crate::index::Fields;
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
    /// Only events that hold an exception.
    pub exceptions_only: bool,
}

/// Why a query could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
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
    #[error("index: {0}")]
    Index(String),
}

impl From<tantivy::TantivyError> for QueryError {
    fn from(err: tantivy::TantivyError) -> Self {
        QueryError::Index(err.to_string())
    }
}

/// Builds the query for `text` (tantivy's query language; empty or `*` matches everything)
/// restricted by `filters`.
pub fn build(
    parser: &QueryParser,
    fields: &Fields,
    text: &str,
    filters: &Filters,
) -> Result<Box<dyn Query>, QueryError> {
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    let text = text.trim();
    if !text.is_empty() && text != "*" {
        let (query, errors) = parser.parse_query_lenient(text);
        if let Some(err) = errors.into_iter().next() {
            return Err(syntax_error(err));
        }
        clauses.push((Occur::Must, query));
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
    for (field, values) in [
        (fields.app, &filters.app),
        (fields.env, &filters.env),
        (fields.host, &filters.host),
        (fields.tag, &filters.tag),
        (fields.logtype, &filters.logtype),
        (fields.level, &levels),
        (fields.fingerprint, &filters.fingerprint),
    ] {
        if let Some(q) = any_of(field, values) {
            clauses.push((Occur::Must, q));
        }
    }
    if filters.exceptions_only {
        // Every exception event has a fingerprint; the fast field says which, with no term to index.
        let exists = ExistsQuery::new("fingerprint".to_owned(), false);
        clauses.push((Occur::Must, Box::new(exists)));
    }
    Ok(match clauses.len() {
        0 => Box::new(AllQuery),
        1 => clauses.pop().expect("one clause").1,
        _ => Box::new(BooleanQuery::new(clauses)),
    })
}

/// `warning` → `WARN`, `error` → `ERROR`: the names levels are indexed under.
fn normalise_level(level: &str) -> String {
    let upper = level.to_ascii_uppercase();
    crate::event::Level::from_word(&upper).map_or(upper, |l| l.as_str().to_owned())
}

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
        many => Some(Box::new(BooleanQuery::new(
            many.iter().map(|v| (Occur::Should, term(v))).collect(),
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
