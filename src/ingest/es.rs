//! Elasticsearch's `_bulk` protocol: the request's action and source lines into documents,
//! and the answer in Elasticsearch's shape, item by item.
//!
//! Actions `index` and `create` are taken (`_type` is ignored, as rsyslog still sends it);
//! `update`, `delete` and unknown actions are refused per item. A line that is not JSON, a
//! source that is not an object or holds no text, fails its own item only: the rest of the
//! request goes on. Shippers retry the items whose status is 429 or 5xx.

use serde::Serialize;
use serde_json::{Map, Value};

use super::edge::{EdgeDoc, EdgeEvent};
use super::mapping;
use super::streams::{Body, Outcome};

/// What one action of a bulk request asks.
#[derive(Debug, Clone)]
pub struct Item {
    /// The action's name as sent (`index`, `create`, ...), which names its answer.
    pub action: String,
    pub index: Option<String>,
    pub id: Option<String>,
    pub doc: Result<Body, ItemError>,
}

/// Why an item was refused, in Elasticsearch's terms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ItemError {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub reason: String,
    #[serde(skip)]
    pub status: u16,
}

impl ItemError {
    fn new(kind: &'static str, status: u16, reason: impl Into<String>) -> ItemError {
        ItemError {
            kind,
            reason: reason.into(),
            status,
        }
    }
}

/// The actions that take a source line after them.
const WITH_SOURCE: &[&str] = &["index", "create", "update"];

/// Reads a bulk body (already decompressed) into its items, in order.
pub fn parse(body: &[u8]) -> Vec<Item> {
    let mut lines = body
        .split(|b| *b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
        .peekable();
    let mut items = Vec::new();
    while let Some(line) = lines.next() {
        let (action, meta) = match action_of(line) {
            Ok(parsed) => parsed,
            Err(err) => {
                items.push(refused("index", None, None, err));
                continue;
            }
        };
        let index = meta
            .get("_index")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let id = meta.get("_id").and_then(id_text);
        let takes_source = WITH_SOURCE.contains(&action.as_str())
            || lines.peek().is_some_and(|next| action_of(next).is_err());
        let source = if takes_source { lines.next() } else { None };
        let doc = match (action.as_str(), source) {
            ("index" | "create", Some(source)) => document(source),
            ("index" | "create", None) => Err(ItemError::new(
                "action_request_validation_exception",
                400,
                "the action has no source line after it",
            )),
            ("update" | "delete", _) => Err(ItemError::new(
                "illegal_argument_exception",
                400,
                format!(
                    "{action}: stackfold keeps logs as written; only index and create are taken"
                ),
            )),
            (other, _) => Err(ItemError::new(
                "illegal_argument_exception",
                400,
                format!("unknown action {other:?}: use index or create"),
            )),
        };
        items.push(Item {
            action,
            index,
            id,
            doc,
        });
    }
    items
}

fn refused(action: &str, index: Option<String>, id: Option<String>, err: ItemError) -> Item {
    Item {
        action: action.to_owned(),
        index,
        id,
        doc: Err(err),
    }
}

/// An action line: `{"<action>": {metadata}}`.
fn action_of(line: &[u8]) -> Result<(String, Map<String, Value>), ItemError> {
    let bad = |reason: String| ItemError::new("parse_exception", 400, reason);
    let value: Value = serde_json::from_slice(line)
        .map_err(|e| bad(format!("malformed action/metadata line: {e}")))?;
    let Value::Object(object) = value else {
        return Err(bad("malformed action/metadata line: not an object".into()));
    };
    let mut entries = object.into_iter();
    match (entries.next(), entries.next()) {
        (Some((action, Value::Object(meta))), None) => Ok((action, meta)),
        (Some((action, Value::Null)), None) => Ok((action, Map::new())),
        _ => Err(bad(
            "malformed action/metadata line: expected one action with its metadata".into(),
        )),
    }
}

fn id_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn document(source: &[u8]) -> Result<Body, ItemError> {
    let bad = |reason: String| ItemError::new("document_parsing_exception", 400, reason);
    // An edge's event is read straight into its type: most of what a central receives.
    if memchr::memmem::find(source, b"\"stackfold\":{").is_some()
        && let Ok(edge) = serde_json::from_slice::<EdgeDoc<'static>>(source)
    {
        let event = EdgeEvent::from_doc(edge).map_err(|e| bad(format!("an edge's event: {e}")))?;
        return Ok(Body::Event(Box::new(event)));
    }
    let value: Value =
        serde_json::from_slice(source).map_err(|e| bad(format!("failed to parse: {e}")))?;
    let Value::Object(doc) = value else {
        return Err(bad("the source is not a JSON object".into()));
    };
    if doc.get("stackfold").is_some_and(Value::is_object) {
        let edge: EdgeDoc<'static> = serde_json::from_value(Value::Object(doc))
            .map_err(|e| bad(format!("an edge's event: {e}")))?;
        let event = EdgeEvent::from_doc(edge).map_err(|e| bad(format!("an edge's event: {e}")))?;
        return Ok(Body::Event(Box::new(event)));
    }
    mapping::read(&doc)
        .map(|shipped| Body::Lines(Box::new(shipped)))
        .ok_or_else(|| bad("no log text: expected message, msg, MESSAGE or log".into()))
}

/// The answer to one item: what Elasticsearch writes under the action's name.
#[derive(Debug, Serialize)]
pub struct ItemAnswer {
    #[serde(rename = "_index")]
    pub index: String,
    #[serde(rename = "_id")]
    pub id: String,
    #[serde(rename = "_version", skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<&'static str>,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ItemError>,
}

/// The answer to a bulk request: `{took, errors, items: [{action: answer}]}`.
#[derive(Debug, Serialize)]
pub struct BulkAnswer {
    pub took: u64,
    pub errors: bool,
    pub items: Vec<Map<String, Value>>,
}

/// Answers `items`, whose accepted documents had `outcomes` in order.
pub fn answer(items: &[Item], outcomes: &[Outcome], took_ms: u64) -> BulkAnswer {
    let mut outcomes = outcomes.iter();
    let mut errors = false;
    let answers = items
        .iter()
        .enumerate()
        .map(|(at, item)| {
            let one = match &item.doc {
                Err(err) => refusal(item, err.clone()),
                Ok(_) => accepted(item, at, *outcomes.next().expect("an outcome per document")),
            };
            errors |= one.error.is_some();
            let mut entry = Map::new();
            let value = serde_json::to_value(&one).expect("answers serialise");
            entry.insert(item.action.clone(), value);
            entry
        })
        .collect();
    BulkAnswer {
        took: took_ms,
        errors,
        items: answers,
    }
}

fn refusal(item: &Item, err: ItemError) -> ItemAnswer {
    ItemAnswer {
        index: item.index.clone().unwrap_or_default(),
        id: item.id.clone().unwrap_or_default(),
        version: None,
        result: None,
        status: err.status,
        error: Some(err),
    }
}

fn accepted(item: &Item, at: usize, outcome: Outcome) -> ItemAnswer {
    let id = item.id.clone().unwrap_or_else(|| format!("stackfold-{at}"));
    let (status, result, error) = match outcome {
        Outcome::Created => (201, Some("created"), None),
        Outcome::Noop => (200, Some("noop"), None),
        Outcome::Conflict => (
            409,
            None,
            Some(ItemError::new(
                "version_conflict_engine_exception",
                409,
                format!("[{id}]: version conflict, document already exists (current version [1])"),
            )),
        ),
        Outcome::Failed => (
            503,
            None,
            Some(ItemError::new(
                "unavailable_shards_exception",
                503,
                "the index could not commit; retry",
            )),
        ),
    };
    ItemAnswer {
        index: item.index.clone().unwrap_or_else(|| "stackfold".into()),
        id,
        version: result.map(|_| 1),
        result,
        status,
        error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text_of(body: &Body) -> &str {
        match body {
            Body::Lines(shipped) => &shipped.text,
            Body::Event(edge) => &edge.event.text,
        }
    }

    #[test]
    fn actions_sources_and_refusals_item_by_item() {
        let body = concat!(
            "{\"index\":{\"_index\":\"logs\",\"_type\":\"events\",\"_id\":\"a\"}}\n",
            "{\"message\":\"2024-03-01 10:00:00 ERROR x - boom\"}\n",
            "{\"create\":{\"_id\":7}}\n",
            "{\"msg\":\"\\tat a.B.c(B.java:1)\",\"host\":\"web01\"}\n",
            "not json at all\n",
            "{\"delete\":{\"_id\":\"a\"}}\n",
            "{\"update\":{\"_id\":\"a\"}}\n",
            "{\"doc\":{\"message\":\"x\"}}\n",
            "{\"index\":{}}\n",
            "[1,2]\n",
            "{\"index\":{}}\n",
            "{\"level\":\"info\"}\n",
            "{\"frobnicate\":{}}\n",
            "{\"message\":\"kept apart\"}\n",
            "{\"index\":{}}\n",
            "{\"message\":\"last\"}",
        );
        let items = parse(body.as_bytes());
        let kinds: Vec<Result<&str, &str>> = items
            .iter()
            .map(|i| i.doc.as_ref().map(text_of).map_err(|e| e.kind))
            .collect();
        assert_eq!(
            kinds,
            [
                Ok("2024-03-01 10:00:00 ERROR x - boom"),
                Ok("\tat a.B.c(B.java:1)"),
                Err("parse_exception"),
                Err("illegal_argument_exception"),
                Err("illegal_argument_exception"),
                Err("document_parsing_exception"),
                Err("document_parsing_exception"),
                Err("illegal_argument_exception"),
                Ok("last"),
            ]
        );
        assert_eq!(items[0].id.as_deref(), Some("a"));
        assert_eq!(items[1].id.as_deref(), Some("7"));
        assert_eq!(items[1].action, "create");
    }

    #[test]
    fn the_answer_has_elasticsearch_shape() {
        let items = parse(b"{\"create\":{\"_id\":\"x\"}}\n{\"message\":\"m\"}\n{\"delete\":{}}\n");
        let answer = answer(&items, &[Outcome::Conflict], 3);
        let json = serde_json::to_value(&answer).unwrap();
        assert_eq!(json["errors"], true);
        assert_eq!(json["items"][0]["create"]["status"], 409);
        assert_eq!(
            json["items"][0]["create"]["error"]["type"],
            "version_conflict_engine_exception"
        );
        assert_eq!(json["items"][1]["delete"]["status"], 400);
    }
}
