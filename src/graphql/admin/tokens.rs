//! Tenant API tokens: create (shown once) and revoke.

use async_graphql::{Context, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;

use super::services;
use super::tenants::parse_slug;
use crate::entities::registry::api_tokens as entity;
use crate::error::Error;
use crate::tenancy::tokens::Scope;

#[derive(SimpleObject)]
pub struct ApiToken {
    pub id: ID,
    pub name: String,
    pub scopes: Vec<Scope>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<entity::Model> for ApiToken {
    fn from(m: entity::Model) -> Self {
        ApiToken {
            id: ID(m.id.to_string()),
            name: m.name,
            scopes: m.scopes.iter().filter_map(|s| Scope::parse(s)).collect(),
            created_at: m.created_at.with_timezone(&Utc),
            last_used_at: m.last_used_at.map(|t| t.with_timezone(&Utc)),
            revoked_at: m.revoked_at.map(|t| t.with_timezone(&Utc)),
        }
    }
}

#[derive(SimpleObject)]
pub struct CreateApiTokenPayload {
    pub api_token: ApiToken,
    /// Shown once; only its hash is stored.
    pub token: String,
}

#[derive(Default)]
pub struct TokensMutation;

#[Object]
impl TokensMutation {
    async fn create_api_token(
        &self,
        ctx: &Context<'_>,
        slug: String,
        name: String,
        #[graphql(default_with = "Some(vec![Scope::Read, Scope::Write])")] scopes: Option<Vec<Scope>>,
    ) -> async_graphql::Result<CreateApiTokenPayload> {
        let admin = services(ctx)?;
        let slug = parse_slug(&slug)?;
        let scopes = scopes.unwrap_or_else(|| vec![Scope::Read, Scope::Write]);
        let (row, token) = admin.lifecycle.create_token(&slug, &name, &scopes).await?;
        Ok(CreateApiTokenPayload {
            api_token: row.into(),
            token: token.expose_secret().to_owned(),
        })
    }

    async fn revoke_api_token(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<ApiToken> {
        let admin = services(ctx)?;
        let id = uuid::Uuid::parse_str(&id).map_err(|_| Error::bad_input("id", "not a token id"))?;
        let row = admin.lifecycle.revoke_token(id).await?;
        Ok(row.into())
    }
}
