//! Parsed GraphQL documents by their text. Clients send the same few documents over
//! and over with different variables; parsing one (a PEG parser) was about 5 % of the
//! CPU of a warm `accounts` request, a copy of the parsed document costs far less.
//! Only documents that parse are kept and validation still runs on every request.
//! Memory is bounded by the number of syntax nodes kept (selections and argument
//! values), not only by entries: 16 KiB of text can parse into megabytes.

use std::sync::{Arc, Mutex};

use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, Selection, SelectionSet};
use async_graphql::Request;
use async_graphql_value::Value;
use lru::LruCache;
use prometheus_client::metrics::counter::Counter;

/// Longer documents are parsed every time (they are rare and would crowd the cache).
pub const MAX_CACHED_DOCUMENT_BYTES: usize = 16 * 1024;
/// Larger documents (in syntax nodes) are parsed every time.
pub const MAX_CACHED_DOCUMENT_NODES: usize = 2_000;
/// Syntax nodes kept across all documents (a few hundred bytes each: tens of MB at most).
pub const MAX_CACHED_NODES: usize = 100_000;

pub struct DocumentCache {
    kept: Option<Mutex<Kept>>,
    pub hits: Counter,
    pub misses: Counter,
}

/// Documents with their node counts, and the sum of those counts.
struct Kept {
    documents: LruCache<String, (Arc<ExecutableDocument>, usize)>,
    nodes: usize,
}

impl Kept {
    fn insert(&mut self, query: String, document: Arc<ExecutableDocument>, nodes: usize) {
        // `push` hands back what it displaced: the same key's old entry or the least
        // recently used one when full.
        if let Some((_, (_, displaced))) = self.documents.push(query, (document, nodes)) {
            self.nodes -= displaced;
        }
        self.nodes += nodes;
        while self.nodes > MAX_CACHED_NODES {
            match self.documents.pop_lru() {
                Some((_, (_, evicted))) => self.nodes -= evicted,
                None => break,
            }
        }
    }
}

impl DocumentCache {
    /// A cache of `capacity` documents; 0 turns it off.
    pub fn new(capacity: usize) -> Self {
        DocumentCache {
            kept: std::num::NonZeroUsize::new(capacity).map(|n| {
                Mutex::new(Kept {
                    documents: LruCache::new(n),
                    nodes: 0,
                })
            }),
            hits: Counter::default(),
            misses: Counter::default(),
        }
    }

    /// Gives `request` its parsed document: the cached one, or parsed now (and kept when
    /// small enough). False when the document does not parse; execution reports that.
    pub fn prepare(&self, request: &mut Request) -> bool {
        let Some(kept) = self
            .kept
            .as_ref()
            .filter(|_| request.query.len() <= MAX_CACHED_DOCUMENT_BYTES)
        else {
            return request.parsed_query().is_ok();
        };
        let cached = lock(kept)
            .documents
            .get(&request.query)
            .map(|(document, _)| document.clone());
        if let Some(document) = cached {
            self.hits.inc();
            // The copy is made outside the lock.
            request.set_parsed_query(ExecutableDocument::clone(&document));
            return true;
        }
        self.misses.inc();
        let Ok(document) = request.parsed_query() else {
            return false;
        };
        let nodes = node_count(document);
        if nodes <= MAX_CACHED_DOCUMENT_NODES {
            let document = Arc::new(document.clone());
            lock(kept).insert(request.query.clone(), document, nodes);
        }
        true
    }
}

fn lock(kept: &Mutex<Kept>) -> std::sync::MutexGuard<'_, Kept> {
    kept.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Selections and argument values of a document: what its parsed size grows with.
fn node_count(document: &ExecutableDocument) -> usize {
    let mut sets: Vec<&SelectionSet> = match &document.operations {
        DocumentOperations::Single(operation) => vec![&operation.node.selection_set.node],
        DocumentOperations::Multiple(operations) => operations.values().map(|o| &o.node.selection_set.node).collect(),
    };
    sets.extend(document.fragments.values().map(|f| &f.node.selection_set.node));
    let mut values: Vec<&Value> = Vec::new();
    let mut nodes = 0;
    // Iterative walks: nesting is bounded for selections by the parser, not for values.
    while let Some(set) = sets.pop() {
        for item in &set.items {
            nodes += 1;
            match &item.node {
                Selection::Field(field) => {
                    values.extend(field.node.arguments.iter().map(|(_, value)| &value.node));
                    sets.push(&field.node.selection_set.node);
                }
                Selection::InlineFragment(fragment) => sets.push(&fragment.node.selection_set.node),
                Selection::FragmentSpread(_) => {}
            }
        }
    }
    while let Some(value) = values.pop() {
        nodes += 1;
        match value {
            Value::List(items) => values.extend(items),
            Value::Object(fields) => values.extend(fields.values()),
            _ => {}
        }
    }
    nodes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_is_parsed_once_and_bad_ones_are_not_kept() {
        let cache = DocumentCache::new(2);
        let mut first = Request::new("{ company { name } }");
        assert!(cache.prepare(&mut first));
        let mut again = Request::new("{ company { name } }");
        assert!(cache.prepare(&mut again));
        assert_eq!((cache.hits.get(), cache.misses.get()), (1, 1));
        assert!(again.parsed_query().is_ok());

        let mut broken = Request::new("{ company {");
        assert!(!cache.prepare(&mut broken));
        assert!(!cache.prepare(&mut Request::new("{ company {")));
        assert_eq!(cache.misses.get(), 3, "a document that does not parse is never cached");

        let mut huge = Request::new(format!(
            "{{ company {{ name }} }}{}",
            " ".repeat(MAX_CACHED_DOCUMENT_BYTES)
        ));
        assert!(cache.prepare(&mut huge));
        assert!(cache.prepare(&mut huge));
        assert_eq!(
            (cache.hits.get(), cache.misses.get()),
            (1, 3),
            "long documents bypass the cache"
        );
    }

    #[test]
    fn memory_is_bounded_by_nodes_not_only_entries() {
        let wide = |fields: usize, tag: &str| format!("query {tag} {{ {} }}", "a ".repeat(fields));
        assert_eq!(
            node_count(&async_graphql::parser::parse_query(wide(7, "W")).unwrap()),
            7
        );
        let values = "{ a(x: [1, [2, 3], {k: 4}]) { b } }";
        // a, b; the outer list, 1, the inner list, 2, 3, the object, 4.
        assert_eq!(node_count(&async_graphql::parser::parse_query(values).unwrap()), 2 + 7);

        let cache = DocumentCache::new(10_000);
        let mut too_big = Request::new(wide(MAX_CACHED_DOCUMENT_NODES + 1, "Big"));
        assert!(cache.prepare(&mut too_big));
        assert_eq!(
            lock(cache.kept.as_ref().unwrap()).documents.len(),
            0,
            "too many nodes to keep"
        );
        // The accounting, without parsing hundreds of documents: one small document kept
        // under many texts, each counted as the largest cacheable document.
        let document = Arc::new(async_graphql::parser::parse_query("{ a }").unwrap());
        let mut kept = lock(cache.kept.as_ref().unwrap());
        for i in 0..(2 * MAX_CACHED_NODES / MAX_CACHED_DOCUMENT_NODES) {
            kept.insert(
                format!("query Q{i} {{ a }}"),
                document.clone(),
                MAX_CACHED_DOCUMENT_NODES,
            );
            assert!(kept.nodes <= MAX_CACHED_NODES, "{} nodes kept", kept.nodes);
        }
        assert_eq!(kept.documents.len(), MAX_CACHED_NODES / MAX_CACHED_DOCUMENT_NODES);
        kept.insert("query Q0 { a }".into(), document, 1);
        assert_eq!(
            kept.nodes,
            kept.documents.len() * MAX_CACHED_DOCUMENT_NODES - MAX_CACHED_DOCUMENT_NODES + 1
        );
    }

    #[test]
    fn capacity_zero_turns_it_off() {
        let cache = DocumentCache::new(0);
        let mut request = Request::new("{ company { name } }");
        assert!(cache.prepare(&mut request));
        assert_eq!((cache.hits.get(), cache.misses.get()), (0, 0));
        assert!(!cache.prepare(&mut Request::new("{ nope")));
    }
}
