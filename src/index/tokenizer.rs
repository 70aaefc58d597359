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

/// Scans a text lazily, one token per [`TokenStream::advance`].
pub struct CodeTokenStream<'a> {
    text: &'a str,
    /// Byte position where scanning resumes.
    pos: usize,
    token: &'a mut Token,
}

impl Tokenizer for CodeTokenizer {
    type TokenStream<'a> = CodeTokenStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> CodeTokenStream<'a> {
        self.token.reset();
        self.token.position = usize::MAX;
        CodeTokenStream {
            text,
            pos: 0,
            token: &mut self.token,
        }
    }
}

impl TokenStream for CodeTokenStream<'_> {
    fn advance(&mut self) -> bool {
        let Some((from, to)) = next_token(self.text, self.pos) else {
            self.pos = self.text.len();
            return false;
        };
        self.pos = to;
        let word = &self.text[from..to];
        let t = &mut *self.token;
        t.offset_from = from;
        t.offset_to = to;
        t.position = t.position.wrapping_add(1);
        t.text.clear();
        if word.is_ascii() {
            let cut = &word[..word.len().min(MAX_TOKEN_CHARS)];
            t.text.push_str(cut);
            t.text.make_ascii_lowercase();
        } else {
            for c in word.chars().take(MAX_TOKEN_CHARS) {
                t.text.extend(c.to_lowercase());
            }
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

/// The byte range of the first token at or after `pos`: a run of alphanumeric characters,
/// cut at camelCase boundaries.
fn next_token(text: &str, pos: usize) -> Option<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut start = pos;
    // Skip separators; ASCII bytes decide alone, other characters by their class.
    loop {
        let b = *bytes.get(start)?;
        if b.is_ascii_alphanumeric() {
            break;
        }
        if b < 0x80 {
            start += 1;
            continue;
        }
        let c = text[start..].chars().next()?;
        if c.is_alphanumeric() {
            break;
        }
        start += c.len_utf8();
    }
    let mut prev: Option<char> = None;
    let mut chars = text[start..].char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if !c.is_alphanumeric() {
            return Some((start, start + i));
        }
        if let Some(p) = prev
            && is_camel_boundary(p, c, chars.peek().map(|&(_, n)| n))
        {
            return Some((start, start + i));
        }
        prev = Some(c);
    }
    Some((start, text.len()))
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
