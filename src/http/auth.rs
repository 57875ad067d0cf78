//! Bearer tokens: extraction and checks. No tenant pool is touched before a token
//! has been verified against the registry.

use axum::http::{header, HeaderMap};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::entities::registry::{api_tokens, tenants};
use crate::error::{Error, Result};
use crate::ledger::actor::Actor;
use crate::tenancy::directory::TenantDirectory;
use crate::tenancy::registry::Registry;
use crate::tenancy::tokens::{looks_like_token, Scope};

/// The token of `Authorization: Bearer <token>`.
pub fn bearer_token(headers: &HeaderMap) -> Result<SecretString> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or(Error::Unauthenticated("missing Authorization: Bearer token"))?
        .to_str()
        .map_err(|_| Error::Unauthenticated("malformed Authorization header"))?;
    let (scheme, token) = value
        .trim()
        .split_once(' ')
        .ok_or(Error::Unauthenticated("malformed Authorization header"))?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(Error::Unauthenticated("malformed Authorization header"));
    }
    Ok(SecretString::from(token.trim().to_owned()))
}

/// Checks a tenant token and returns its scopes and who it is (its id and name, for
/// the books and the audit log). Unknown, revoked and other tenants' tokens get the
/// same answer, so a caller learns nothing about other tenants.
pub async fn verify_tenant_token(
    directory: &TenantDirectory,
    tenant: &tenants::Model,
    headers: &HeaderMap,
) -> Result<(Vec<Scope>, Actor)> {
    let token = bearer_token(headers)?;
    if !looks_like_token(token.expose_secret()) {
        return Err(Error::Unauthenticated("malformed token"));
    }
    let row: Option<api_tokens::Model> = directory.token(&token).await?;
    match row {
        Some(row) if row.tenant_id == tenant.id && row.revoked_at.is_none() => Ok((
            row.scopes.iter().filter_map(|s| Scope::parse(s)).collect(),
            Actor::token(row.id, &row.name),
        )),
        _ => Err(Error::Unauthenticated("invalid or revoked token")),
    }
}

/// The token behind a signed export link (its signature already checked): it must still
/// be the tenant's and not revoked, as a bearer token must. Read from the registry
/// itself, not a cache, so a link stops working the moment its token is revoked.
pub async fn verify_link_token(
    registry: &Registry,
    tenant: &tenants::Model,
    token_id: uuid::Uuid,
) -> Result<(Vec<Scope>, Actor)> {
    match registry.token_by_id(token_id).await? {
        Some(row) if row.tenant_id == tenant.id && row.revoked_at.is_none() => Ok((
            row.scopes.iter().filter_map(|s| Scope::parse(s)).collect(),
            Actor::token(row.id, &row.name),
        )),
        _ => Err(Error::Unauthenticated("invalid export link")),
    }
}

/// Checks the admin token in constant time (digests first, so lengths don't leak).
pub fn verify_admin_token(expected: &SecretString, headers: &HeaderMap) -> Result<()> {
    let presented = bearer_token(headers)?;
    let a = Sha256::digest(presented.expose_secret().as_bytes());
    let b = Sha256::digest(expected.expose_secret().as_bytes());
    if bool::from(a.ct_eq(&b)) {
        Ok(())
    } else {
        Err(Error::Unauthenticated("invalid admin token"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(value).unwrap_or_else(|e| panic!("{e}")),
        );
        h
    }

    #[test]
    fn bearer_extraction() {
        assert!(bearer_token(&HeaderMap::new()).is_err());
        assert!(bearer_token(&headers("Basic abc")).is_err());
        assert!(bearer_token(&headers("Bearer ")).is_err());
        assert!(bearer_token(&headers("Bearer")).is_err());
        assert_eq!(
            bearer_token(&headers("bearer nj_x"))
                .map(|t| t.expose_secret().to_owned())
                .ok(),
            Some("nj_x".into())
        );
    }

    #[test]
    fn admin_token_comparison() {
        let expected = SecretString::from("admin-token-0123456789");
        assert!(verify_admin_token(&expected, &headers("Bearer admin-token-0123456789")).is_ok());
        assert!(verify_admin_token(&expected, &headers("Bearer admin-token-012345678")).is_err());
        assert!(verify_admin_token(&expected, &HeaderMap::new()).is_err());
    }
}
