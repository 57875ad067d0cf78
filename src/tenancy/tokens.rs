//! Tenant API tokens: `nj_` + 43 base62 characters (256 random bits), shown once and
//! stored only as a SHA-256 hash.

use rand::distributions::{Alphanumeric, DistString};
use rand::rngs::OsRng;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

pub const TOKEN_PREFIX: &str = "nj_";
/// 62^43 > 2^256.
const TOKEN_BODY_LEN: usize = 43;

/// What a token may do: queries need `Read`, mutations need `Write`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, async_graphql::Enum)]
#[graphql(name = "TokenScope")]
pub enum Scope {
    Read,
    Write,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "READ",
            Scope::Write => "WRITE",
        }
    }

    pub fn parse(raw: &str) -> Option<Scope> {
        match raw {
            "READ" => Some(Scope::Read),
            "WRITE" => Some(Scope::Write),
            _ => None,
        }
    }
}

/// A fresh token. Return it to the caller once; store only [`hash_token`] of it.
pub fn generate_token() -> SecretString {
    SecretString::from(format!(
        "{TOKEN_PREFIX}{}",
        Alphanumeric.sample_string(&mut OsRng, TOKEN_BODY_LEN)
    ))
}

/// True when the text has the shape of one of our tokens (checked before any lookup).
pub fn looks_like_token(raw: &str) -> bool {
    raw.strip_prefix(TOKEN_PREFIX)
        .is_some_and(|body| body.len() == TOKEN_BODY_LEN && body.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// SHA-256 of the token: a 256-bit random token needs no salt or slow hash.
pub fn hash_token(token: &SecretString) -> Vec<u8> {
    Sha256::digest(token.expose_secret().as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_have_the_documented_shape_and_differ() {
        let a = generate_token();
        let b = generate_token();
        assert!(looks_like_token(a.expose_secret()));
        assert_ne!(a.expose_secret(), b.expose_secret());
        assert_eq!(hash_token(&a).len(), 32);
        assert_ne!(hash_token(&a), hash_token(&b));
    }

    #[test]
    fn malformed_tokens_are_recognised() {
        for bad in [
            "",
            "nj_",
            "nj_short",
            "xx_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "nj_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!",
        ] {
            assert!(!looks_like_token(bad), "{bad}");
        }
    }
}
