//! Finding the line of a key path (`vip[0].backends[1].check`) in TOML text, for
//! errors found after parsing. toml_edit keeps the spans that serde drops.

use std::ops::Range;

use toml_edit::{Document, Item, Table, Value};

/// The 1-based line holding byte `offset`.
pub fn line_of_offset(text: &str, offset: usize) -> usize {
    text.as_bytes()
        .iter()
        .take(offset)
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

fn segments(path: &str) -> Vec<Seg<'_>> {
    let mut out = Vec::new();
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let (key, rest) = part.split_once('[').unwrap_or((part, ""));
        if !key.is_empty() {
            out.push(Seg::Key(key));
        }
        for idx in rest.split('[') {
            if let Ok(i) = idx.trim_end_matches(']').parse() {
                out.push(Seg::Index(i));
            }
        }
    }
    out
}

/// A place in the document while walking a key path.
#[derive(Clone, Copy)]
enum Node<'a> {
    Table(&'a Table),
    Item(&'a Item),
    Value(&'a Value),
}

impl<'a> Node<'a> {
    /// One step down the path, and the span of what was stepped onto.
    fn step(self, seg: &Seg<'_>) -> Option<(Node<'a>, Option<Range<usize>>)> {
        match (self, seg) {
            (Node::Table(t), Seg::Key(k)) => {
                let (key, item) = t.get_key_value(k)?;
                Some((Node::Item(item), key.span()))
            }
            (Node::Item(Item::Table(t)), seg) => Node::Table(t).step(seg),
            (Node::Item(Item::ArrayOfTables(a)), Seg::Index(i)) => {
                let t = a.get(*i)?;
                Some((Node::Table(t), t.span()))
            }
            (Node::Item(Item::Value(v)), seg) => Node::Value(v).step(seg),
            (Node::Value(Value::Array(a)), Seg::Index(i)) => {
                let v = a.get(*i)?;
                Some((Node::Value(v), v.span()))
            }
            (Node::Value(Value::InlineTable(t)), Seg::Key(k)) => {
                let (key, v) = t.get_key_value(k)?;
                Some((Node::Item(v), key.span()))
            }
            _ => None,
        }
    }
}

/// The line of the deepest part of `path` that exists in the document.
pub fn line_of_key(text: &str, path: &str) -> Option<usize> {
    let doc = Document::parse(text).ok()?;
    let mut node = Node::Table(doc.as_table());
    let mut best = None;
    for seg in segments(path) {
        let Some((next, span)) = node.step(&seg) else {
            break;
        };
        node = next;
        best = span.or(best);
    }
    best.map(|s: Range<usize>| line_of_offset(text, s.start))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "[bgp]\nlocal_as = 65001\n\n[[vip]]\nprefix = \"100.64.0.1/32\"\nbackends = [\n  { name = \"ws1\", check = \"x\" },\n  { name = \"ws2\", check = \"y\" },\n]\n";

    #[test]
    fn finds_keys_in_tables_arrays_of_tables_and_inline_tables() {
        assert_eq!(line_of_key(DOC, "bgp.local_as"), Some(2));
        assert_eq!(line_of_key(DOC, "vip[0].prefix"), Some(5));
        assert_eq!(line_of_key(DOC, "vip[0].backends[1].check"), Some(8));
        assert_eq!(line_of_key(DOC, "vip[0].backends[0]"), Some(7));
        // A missing key: the deepest part that exists.
        assert_eq!(line_of_key(DOC, "bgp.router_id"), Some(1));
    }
}
