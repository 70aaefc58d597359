//! The tokenizer for how people search code and logs: words split at punctuation and at
//! camelCase boundaries, lower-cased. `java.lang.NullPointerException` is indexed as
//! `java lang null pointer exception`, so `NullPointer`, `com.acme.billing`,
//! `OrderService.charge` and `E-4711` all match as phrases.

use tantivy::tokenizer::{Token, TokenStream, Tokenizer};

/// Longest token kept: longer runs (base64 blobs, hashes) are cut, not dropped, so an id is
/// still found by its first characters.
const MAX_TOKEN_CHARS: usize = 64;

/// Registered under [`CODE_TOKENIZER`](super::schema::CODE_TOKENIZER).
#[derive(Debug, Clone, Default)]
pub struct CodeTokenizer {
    token: Token,
}

/// The tokens of one text, computed up front (texts are log events: a few KiB at most).
pub struct CodeTokenStream<'a> {
    tokens: std::vec::IntoIter<(usize, usize)>,
    text: &'a str,
    token: &'a mut Token,
}

impl Tokenizer for CodeTokenizer {
    type TokenStream<'a> = CodeTokenStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> CodeTokenStream<'a> {
        self.token.reset();
        self.token.position = usize::MAX;
        CodeTokenStream {
            tokens: split(text).into_iter(),
            text,
            token: &mut self.token,
        }
    }
}

impl TokenStream for CodeTokenStream<'_> {
    fn advance(&mut self) -> bool {
        let Some((from, to)) = self.tokens.next() else {
            return false;
        };
        self.token.offset_from = from;
        self.token.offset_to = to;
        self.token.position = self.token.position.wrapping_add(1);
        self.token.text.clear();
        for c in self.text[from..to].chars().take(MAX_TOKEN_CHARS) {
            self.token.text.extend(c.to_lowercase());
        }
        true
    }

    fn token(&self) -> &Token {
        self.token
    }

    fn token_mut(&mut self) -> &mut Token {
        self.token
    }
}

/// Byte ranges of the tokens of `text`.
fn split(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    let mut prev: Option<char> = None;
    let mut iter = text.char_indices().peekable();
    while let Some((i, c)) = iter.next() {
        if !c.is_alphanumeric() {
            if let Some(s) = start.take() {
                out.push((s, i));
            }
            prev = None;
            continue;
        }
        let next = iter.peek().map(|&(_, n)| n);
        if let (Some(s), Some(p)) = (start, prev)
            && is_camel_boundary(p, c, next)
        {
            out.push((s, i));
            start = Some(i);
        }
        start.get_or_insert(i);
        prev = Some(c);
    }
    if let Some(s) = start {
        out.push((s, text.len()));
    }
    out
}

/// `aB` (nullPointer) and `ABc` (HTTPServer → HTTP|Server) split; digits never do.
fn is_camel_boundary(prev: char, c: char, next: Option<char>) -> bool {
    (prev.is_lowercase() && c.is_uppercase())
        || (prev.is_uppercase() && c.is_uppercase() && next.is_some_and(char::is_lowercase))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(text: &str) -> Vec<String> {
        let mut tokenizer = CodeTokenizer::default();
        let mut stream = tokenizer.token_stream(text);
        let mut out = Vec::new();
        while let Some(t) = stream.next() {
            out.push(t.text.clone());
        }
        out
    }

    #[test]
    fn splits_code_the_way_people_search_it() {
        assert_eq!(
            tokens("java.lang.NullPointerException"),
            ["java", "lang", "null", "pointer", "exception"]
        );
        assert_eq!(
            tokens("OrderService.charge(OrderService.java:42)"),
            [
                "order", "service", "charge", "order", "service", "java", "42"
            ]
        );
        assert_eq!(
            tokens("HTTPServer utf8 x86_64 E-4711"),
            ["http", "server", "utf8", "x86", "64", "e", "4711"]
        );
        assert_eq!(tokens("Ünïcode café"), ["ünïcode", "café"]);
        assert_eq!(tokens(""), Vec::<String>::new());
    }

    #[test]
    fn positions_and_offsets() {
        let mut tokenizer = CodeTokenizer::default();
        let mut stream = tokenizer.token_stream("a.bC");
        let mut seen = Vec::new();
        while stream.advance() {
            let t = stream.token();
            seen.push((t.position, t.offset_from, t.offset_to));
        }
        assert_eq!(seen, [(0, 0, 1), (1, 2, 3), (2, 3, 4)]);
    }
}
