pub mod api_tokens;
pub mod tenant_events;
pub mod tenants;
