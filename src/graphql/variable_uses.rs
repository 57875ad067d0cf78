//! What a document's variables weigh once used. async-graphql copies a variable's value
//! at every place that uses it, once when it validates the document and again when it
//! runs each field, and only then do resolvers see (and cap) their input. A few bytes of
//! document can therefore turn one large variable into gigabytes:
//! `createJournalEntries(inputs: [$e, $e, $e, ...])` with `$e` an entry of 5,000 lines.
//! So before validation, the uses of each variable are counted, fragments expanded, and
//! a document whose uses would copy more than its limit is refused (`BAD_REQUEST`).

use std::collections::HashMap;

use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, Field, Selection, SelectionSet};
use async_graphql::{Name, Positioned, Request, Variables};
use async_graphql_value::Value;

use crate::error::Error;

/// Selections visited, fragments expanded, before giving up: far past what the
/// complexity limit lets run, so only a fragment bomb reaches it.
const MAX_SELECTIONS_VISITED: usize = 100_000;

/// Fragments followed within one another before giving up (validation refuses cycles
/// later; this walk runs before validation).
const MAX_FRAGMENT_NESTING: usize = 32;

/// The refusal of `request` when the uses of its variables would copy more than
/// `limit_bytes` (as JSON), for the operation it selects.
pub fn variable_uses_refusal(request: &mut Request, limit_bytes: usize) -> Option<Error> {
    if request.variables.is_empty() {
        return None;
    }
    let sizes = sizes(&request.variables);
    let name = request.operation_name.clone();
    let document = request.parsed_query().ok()?;
    let mut walk = Walk {
        document,
        sizes: &sizes,
        copied: 0,
        visited: 0,
        limit_bytes,
    };
    let too_much = match (&document.operations, name.as_deref()) {
        (DocumentOperations::Single(op), _) => walk.set(&op.node.selection_set.node, 0),
        (DocumentOperations::Multiple(ops), Some(name)) => match ops.get(name) {
            Some(op) => walk.set(&op.node.selection_set.node, 0),
            None => false,
        },
        (DocumentOperations::Multiple(ops), None) => ops.values().any(|op| walk.set(&op.node.selection_set.node, 0)),
    };
    too_much.then(|| {
        Error::bad_request(format!(
            "the document uses its variables more than they may be copied ({limit_bytes} bytes in all, \
             fragments expanded), or nests fragments too deeply: use a large variable once"
        ))
    })
}

/// Each variable's size as JSON.
fn sizes(variables: &Variables) -> HashMap<Name, usize> {
    variables
        .iter()
        .map(|(name, value)| (name.clone(), value.to_string().len()))
        .collect()
}

struct Walk<'a> {
    document: &'a ExecutableDocument,
    sizes: &'a HashMap<Name, usize>,
    copied: usize,
    visited: usize,
    limit_bytes: usize,
}

impl Walk<'_> {
    /// Whether the uses below `set` pass the limit (or the walk its bound).
    fn set(&mut self, set: &SelectionSet, nesting: usize) -> bool {
        for selection in &set.items {
            self.visited += 1;
            if self.visited > MAX_SELECTIONS_VISITED || nesting > MAX_FRAGMENT_NESTING {
                return true;
            }
            let too_much = match &selection.node {
                Selection::Field(field) => self.field(&field.node, nesting),
                Selection::InlineFragment(inline) => {
                    self.directives(&inline.node.directives) || self.set(&inline.node.selection_set.node, nesting)
                }
                Selection::FragmentSpread(spread) => {
                    if self.directives(&spread.node.directives) {
                        return true;
                    }
                    match self.document.fragments.get(&spread.node.fragment_name.node) {
                        // A cycle is refused by validation; here it ends at the bound.
                        Some(fragment) => self.set(&fragment.node.selection_set.node, nesting + 1),
                        None => false,
                    }
                }
            };
            if too_much {
                return true;
            }
        }
        false
    }

    fn field(&mut self, field: &Field, nesting: usize) -> bool {
        for (_, value) in &field.arguments {
            if self.value(&value.node) {
                return true;
            }
        }
        self.directives(&field.directives) || self.set(&field.selection_set.node, nesting)
    }

    fn directives(&mut self, directives: &[Positioned<async_graphql::parser::types::Directive>]) -> bool {
        directives
            .iter()
            .flat_map(|d| d.node.arguments.iter())
            .any(|(_, value)| self.value(&value.node))
    }

    /// Adds the variables `value` uses; whether the total passed the limit.
    fn value(&mut self, value: &Value) -> bool {
        match value {
            Value::Variable(name) => {
                self.copied += self.sizes.get(name).copied().unwrap_or(0);
            }
            Value::List(items) => {
                for item in items {
                    if self.value(item) {
                        return true;
                    }
                }
            }
            Value::Object(fields) => {
                for item in fields.values() {
                    if self.value(item) {
                        return true;
                    }
                }
            }
            _ => {}
        }
        self.copied > self.limit_bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(query: &str, variables: serde_json::Value) -> bool {
        let mut request = Request::new(query).variables(Variables::from_json(variables));
        variable_uses_refusal(&mut request, 1000).is_some()
    }

    #[test]
    fn a_large_variable_may_be_used_once_not_many_times() {
        let big = "x".repeat(400);
        let once = "mutation($e: String) { a(x: $e) }";
        assert!(!refused(once, serde_json::json!({ "e": big })));
        let thrice = "mutation($e: String) { a(x: [$e, $e, $e]) }";
        assert!(refused(thrice, serde_json::json!({ "e": big })));
        let nested = "mutation($e: String) { a(x: { y: [{ z: $e }, { z: $e }, { z: $e }] }) }";
        assert!(refused(nested, serde_json::json!({ "e": big })), "inside objects");
        let small = "query($id: ID) { a(id: $id) b(id: $id) c(id: $id) }";
        assert!(!refused(small, serde_json::json!({ "id": "1" })), "small ones are fine");
    }

    #[test]
    fn fragments_count_once_per_spread() {
        let big = "x".repeat(400);
        let spread = "query($e: String) { ...F ...F ...F } fragment F on Query { a(x: $e) }";
        assert!(refused(spread, serde_json::json!({ "e": big })));
        let in_directive = "query($e: Boolean) { a @include(if: $e) }";
        assert!(!refused(in_directive, serde_json::json!({ "e": true })));
        let cycle = "query($e: String) { ...A } fragment A on Query { ...A }";
        assert!(refused(cycle, serde_json::json!({ "e": "" })), "the walk ends");
    }
}
