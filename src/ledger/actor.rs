//! Who acts on the books: the API token behind a request (its id and name), or the
//! service itself ("system": the CLI, the embedded demo). Entries record who created and
//! posted them, and every audit event names its actor.

use uuid::Uuid;

/// The name recorded for what the service does on its own.
pub const SYSTEM: &str = "system";

/// Longest name recorded (the audit log's limit; token names are shorter).
const MAX_NAME_CHARS: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The API token's id; `None` for the system.
    pub token_id: Option<Uuid>,
    /// The token's name (never the token itself), or [`SYSTEM`].
    pub name: String,
}

impl Actor {
    /// The service itself, with no token.
    pub fn system() -> Actor {
        Actor {
            token_id: None,
            name: SYSTEM.to_owned(),
        }
    }

    /// The API token `id` named `name` (a blank name is recorded as the token's id).
    pub fn token(id: Uuid, name: &str) -> Actor {
        let name: String = name.trim().chars().take(MAX_NAME_CHARS).collect();
        Actor {
            token_id: Some(id),
            name: if name.is_empty() { id.to_string() } else { name },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actors_have_a_name_that_fits() {
        assert_eq!(Actor::system().name, "system");
        assert_eq!(Actor::system().token_id, None);
        let id = Uuid::new_v4();
        assert_eq!(Actor::token(id, " Kasir ").name, "Kasir");
        assert_eq!(Actor::token(id, "  ").name, id.to_string());
        assert_eq!(Actor::token(id, &"é".repeat(300)).name.chars().count(), 200);
    }
}
