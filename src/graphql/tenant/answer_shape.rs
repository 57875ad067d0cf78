//! What a mutation may ask back. A mutation is not stopped by the runtime budget once it
//! has run (it must never answer an error for data it committed), so the size of its
//! answer is bounded before it runs: below the mutation's own field, a selection may pass
//! through at most one list (`lines`, `children`, ...). `createJournalEntry { lines {
//! account { code } } }` is fine; `lines { account { children { ... } } }` multiplies an
//! entry's 5,000 lines by every sibling account and is refused with `BAD_REQUEST`,
//! before anything runs. Lists of the schema are read from its SDL once.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use async_graphql::parser::types::{
    BaseType, DocumentOperations, ExecutableDocument, OperationType, Selection, SelectionSet, TypeKind,
    TypeSystemDefinition,
};

use crate::error::Error;

/// Lists a mutation's answer may pass through on any path.
const MAX_LISTS_IN_A_MUTATION_ANSWER: usize = 1;

/// Fragments followed within one another before giving up (validation refuses cycles
/// later; this walk runs before validation).
const MAX_FRAGMENT_NESTING: usize = 16;

/// Per object type, per field: the named type it returns and whether it is a list.
type Fields = HashMap<String, HashMap<String, (String, bool)>>;

static TENANT_FIELDS: LazyLock<Fields> = LazyLock::new(|| fields_of(&super::schema().sdl()));

fn fields_of(sdl: &str) -> Fields {
    let Ok(document) = async_graphql::parser::parse_schema(sdl) else {
        return Fields::new();
    };
    let mut fields = Fields::new();
    for definition in document.definitions {
        let TypeSystemDefinition::Type(ty) = definition else {
            continue;
        };
        let TypeKind::Object(object) = &ty.node.kind else {
            continue;
        };
        let of_type = fields.entry(ty.node.name.node.to_string()).or_default();
        for field in &object.fields {
            let (named, list) = named_type(&field.node.ty.node.base);
            of_type.insert(field.node.name.node.to_string(), (named, list));
        }
    }
    fields
}

/// The named type under any lists, and whether there was a list.
fn named_type(base: &BaseType) -> (String, bool) {
    match base {
        BaseType::Named(name) => (name.to_string(), false),
        BaseType::List(inner) => (named_type(&inner.base).0, true),
    }
}

/// The refusal of a mutation whose answer would nest lists, for the operation the
/// request selects (`None` for queries and for answers of a bounded shape).
pub fn mutation_answer_refusal(document: &ExecutableDocument, operation_name: Option<&str>) -> Option<Error> {
    let operation = match (&document.operations, operation_name) {
        (DocumentOperations::Single(op), _) => op,
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name)?,
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => ops.values().next()?,
        (DocumentOperations::Multiple(_), None) => return None,
    };
    if operation.node.ty != OperationType::Mutation {
        return None;
    }
    let walk = Walk {
        fields: &TENANT_FIELDS,
        document,
    };
    let lists = walk.most_lists(&operation.node.selection_set.node, "Mutation", 0);
    (lists > MAX_LISTS_IN_A_MUTATION_ANSWER).then(|| {
        Error::bad_request(
            "a mutation's answer may pass through at most one list (such as `lines` or `children`); \
             ask for the rest with a query afterwards",
        )
    })
}

struct Walk<'a> {
    fields: &'a Fields,
    document: &'a ExecutableDocument,
}

impl Walk<'_> {
    /// The most lists any path below `set` (of type `parent`) passes through. Stops
    /// counting once past the limit.
    fn most_lists(&self, set: &SelectionSet, parent: &str, fragments: usize) -> usize {
        let mut most = 0;
        for selection in &set.items {
            let lists = match &selection.node {
                Selection::Field(field) => {
                    let name = field.node.name.node.as_str();
                    let Some((ty, list)) = self.fields.get(parent).and_then(|f| f.get(name)) else {
                        continue;
                    };
                    usize::from(*list) + self.most_lists(&field.node.selection_set.node, ty, fragments)
                }
                Selection::InlineFragment(inline) => {
                    let on = inline
                        .node
                        .type_condition
                        .as_ref()
                        .map(|c| c.node.on.node.as_str())
                        .unwrap_or(parent);
                    self.most_lists(&inline.node.selection_set.node, on, fragments)
                }
                Selection::FragmentSpread(spread) => {
                    if fragments >= MAX_FRAGMENT_NESTING {
                        return MAX_LISTS_IN_A_MUTATION_ANSWER + 1;
                    }
                    let Some(fragment) = self.document.fragments.get(&spread.node.fragment_name.node) else {
                        continue;
                    };
                    let on = fragment.node.type_condition.node.on.node.as_str();
                    self.most_lists(&fragment.node.selection_set.node, on, fragments + 1)
                }
            };
            most = most.max(lists);
            if most > MAX_LISTS_IN_A_MUTATION_ANSWER {
                break;
            }
        }
        most
    }
}

/// The list fields of the tenant schema, for the README and tests.
pub fn list_fields() -> HashSet<String> {
    TENANT_FIELDS
        .iter()
        .flat_map(|(ty, fields)| {
            fields
                .iter()
                .filter(|(_, (_, list))| *list)
                .map(move |(name, _)| format!("{ty}.{name}"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(query: &str) -> bool {
        let document = async_graphql::parser::parse_query(query).unwrap_or_else(|e| panic!("{e}"));
        mutation_answer_refusal(&document, None).is_some()
    }

    #[test]
    fn the_schema_lists_are_known() {
        let lists = list_fields();
        assert!(lists.contains("Account.children"), "{lists:?}");
        assert!(lists.contains("JournalEntry.lines"), "{lists:?}");
        assert!(!lists.contains("JournalLine.account"));
    }

    #[test]
    fn one_list_in_a_mutation_answer_is_fine_two_are_not() {
        assert!(!refused(
            "mutation { postJournalEntry(id: \"x\") { id lines { account { code } } } }"
        ));
        assert!(refused(
            "mutation { postJournalEntry(id: \"x\") { lines { account { children { code } } } } }"
        ));
        assert!(refused(
            "mutation { createAccount(input: {code: \"1\", name: \"a\", type: ASSET}) { parent { children { children { code } } } } }"
        ));
        assert!(
            refused("mutation { postJournalEntry(id: \"x\") { ...L } } fragment L on JournalEntry { lines { account { children { code } } } }"),
            "through a fragment"
        );
        assert!(
            refused("mutation { postJournalEntry(id: \"x\") { ... on JournalEntry { lines { account { children { code } } } } } }"),
            "through an inline fragment"
        );
        assert!(
            !refused("{ accounts { nodes { children { children { code } } } } }"),
            "queries have a runtime budget"
        );
    }

    #[test]
    fn fragment_cycles_end() {
        assert!(refused(
            "mutation { postJournalEntry(id: \"x\") { ...A } } fragment A on JournalEntry { ...A }"
        ));
    }
}
