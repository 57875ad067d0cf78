//! Parsed GraphQL documents by their text. Clients send the same few documents over
//! and over with different variables; parsing one (a PEG parser) was about 5 % of the
//! CPU of a warm `accounts` request, a clone of the parsed document costs far less.
//! Only documents that parse are kept, validation still runs on every request, and
//! the cache is bounded in entries and in the size of a kept document.

use std::sync::Mutex;

use async_graphql::parser::types::ExecutableDocument;
use async_graphql::Request;
use lru::LruCache;
use prometheus_client::metrics::counter::Counter;

/// Longer documents are parsed every time (they are rare and would crowd the cache).
pub const MAX_CACHED_DOCUMENT_BYTES: usize = 16 * 1024;

pub struct DocumentCache {
    entries: Option<Mutex<LruCache<String, ExecutableDocument>>>,
    pub hits: Counter,
    pub misses: Counter,
}

impl DocumentCache {
    /// A cache of `capacity` documents; 0 turns it off.
    pub fn new(capacity: usize) -> Self {
        DocumentCache {
            entries: std::num::NonZeroUsize::new(capacity).map(|n| Mutex::new(LruCache::new(n))),
            hits: Counter::default(),
            misses: Counter::default(),
        }
    }

    /// Gives `request` its parsed document: the cached one, or parsed now and kept if it
    /// parses. A document that does not parse is left for execution to report.
    pub fn prepare(&self, request: &mut Request) {
        let Some(entries) = &self.entries else { return };
        if request.query.len() > MAX_CACHED_DOCUMENT_BYTES {
            return;
        }
        let cached = entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(&request.query)
            .cloned();
        if let Some(document) = cached {
            self.hits.inc();
            request.set_parsed_query(document);
            return;
        }
        self.misses.inc();
        if let Ok(document) = request.parsed_query() {
            let document = document.clone();
            entries
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .put(request.query.clone(), document);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_is_parsed_once_and_bad_ones_are_not_kept() {
        let cache = DocumentCache::new(2);
        let mut first = Request::new("{ company { name } }");
        cache.prepare(&mut first);
        let mut again = Request::new("{ company { name } }");
        cache.prepare(&mut again);
        assert_eq!((cache.hits.get(), cache.misses.get()), (1, 1));
        assert!(again.parsed_query().is_ok());

        let mut broken = Request::new("{ company {");
        cache.prepare(&mut broken);
        cache.prepare(&mut Request::new("{ company {"));
        assert_eq!(cache.misses.get(), 3, "a document that does not parse is never cached");
        assert!(broken.parsed_query().is_err());

        let mut huge = Request::new(format!(
            "{{ company {{ name }} }}{}",
            " ".repeat(MAX_CACHED_DOCUMENT_BYTES)
        ));
        cache.prepare(&mut huge);
        cache.prepare(&mut huge);
        assert_eq!(
            (cache.hits.get(), cache.misses.get()),
            (1, 3),
            "long documents bypass the cache"
        );
    }

    #[test]
    fn capacity_zero_turns_it_off() {
        let cache = DocumentCache::new(0);
        let mut request = Request::new("{ company { name } }");
        cache.prepare(&mut request);
        assert_eq!((cache.hits.get(), cache.misses.get()), (0, 0));
        assert!(request.parsed_query().is_ok());
    }
}
