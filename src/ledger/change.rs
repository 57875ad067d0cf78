//! A change to an optional field: keep it, clear it, or set it. GraphQL inputs tell
//! "left out" from "null"; [`Change`] carries that into the services, and the one
//! conversion from `MaybeUndefined` lives here so resolvers do not each write it.

use async_graphql::MaybeUndefined;

/// A change to a field that may also be cleared.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Change<T> {
    /// Left out of the input: the field keeps its value.
    #[default]
    Keep,
    /// Given as `null`: the field is cleared.
    Clear,
    /// Given a value.
    Set(T),
}

impl<T> Change<T> {
    /// The value given, converted.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Change<U> {
        match self {
            Change::Keep => Change::Keep,
            Change::Clear => Change::Clear,
            Change::Set(value) => Change::Set(f(value)),
        }
    }

    /// The value given, converted by a check that may refuse it.
    pub fn try_map<U, E>(self, f: impl FnOnce(T) -> Result<U, E>) -> Result<Change<U>, E> {
        Ok(match self {
            Change::Keep => Change::Keep,
            Change::Clear => Change::Clear,
            Change::Set(value) => Change::Set(f(value)?),
        })
    }

    /// The field's value after the change, given its value before.
    pub fn apply(self, current: Option<T>) -> Option<T> {
        match self {
            Change::Keep => current,
            Change::Clear => None,
            Change::Set(value) => Some(value),
        }
    }
}

/// Left out -> `Keep`, `null` -> `Clear`, a value -> `Set`.
impl<T> From<MaybeUndefined<T>> for Change<T> {
    fn from(value: MaybeUndefined<T>) -> Self {
        match value {
            MaybeUndefined::Undefined => Change::Keep,
            MaybeUndefined::Null => Change::Clear,
            MaybeUndefined::Value(value) => Change::Set(value),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_become_changes() {
        assert_eq!(Change::from(MaybeUndefined::<i32>::Undefined), Change::Keep);
        assert_eq!(Change::from(MaybeUndefined::<i32>::Null), Change::Clear);
        assert_eq!(Change::from(MaybeUndefined::Value(3)), Change::Set(3));
    }

    #[test]
    fn changes_apply_to_the_current_value() {
        assert_eq!(Change::Keep.apply(Some(1)), Some(1));
        assert_eq!(Change::Clear.apply(Some(1)), None);
        assert_eq!(Change::Set(2).apply(None), Some(2));
        assert_eq!(Change::Set(2).map(|v| v * 10), Change::Set(20));
        assert_eq!(Change::Set("x").try_map(|_| Err::<i32, _>("bad")), Err("bad"));
        assert_eq!(
            Change::<&str>::Clear.try_map(|_| Err::<i32, _>("bad")),
            Ok(Change::Clear)
        );
    }
}
