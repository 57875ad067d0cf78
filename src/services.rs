//! The long-lived handles of one service instance (registry, caches, pools, lifecycle),
//! built once from the configuration and shared by the HTTP layer, the admin API and
//! the CLI. They live here, apart from `startup` and `http`, so that everything that
//! needs them can import them without importing the server.

use std::sync::Arc;

use crate::config::ServiceConfig;
use crate::tenancy::connections::TenantConnections;
use crate::tenancy::directory::TenantDirectory;
use crate::tenancy::invalidation::Invalidation;
use crate::tenancy::lifecycle::Lifecycle;
use crate::tenancy::operations::Operations;
use crate::tenancy::provision::{Placement, Provisioner};
use crate::tenancy::registry::{connect_pool, Registry};

/// The long-lived parts of the service, shared by `serve`, the admin API and the CLI.
#[derive(Clone)]
pub struct Services {
    pub registry: Registry,
    /// Cached registry reads for the request path.
    pub directory: Arc<TenantDirectory>,
    pub connections: Arc<TenantConnections>,
    pub invalidation: Invalidation,
    pub lifecycle: Lifecycle,
}

impl Services {
    /// Connects to the registry (applying its pending migrations) and the admin database.
    pub async fn connect(config: &ServiceConfig) -> anyhow::Result<Self> {
        let registry = Registry::connect(&config.registry_url).await?;
        registry.migrate().await?;
        let admin = connect_pool(&config.tenant_admin_url, "nusa-journal-admin", 4).await?;
        let placement = Placement {
            db_host: config.tenant_db_host.clone(),
            db_port: config.tenant_db_port,
            role_prefix: config.tenant_role_prefix.clone(),
            admin_url: config.tenant_admin_url.clone(),
            use_template: config.use_template,
        };
        let operations = Operations::new(registry.clone(), config.limits.operation_lease);
        let provisioner = Provisioner::new(
            registry.clone(),
            admin,
            config.sealer.clone(),
            placement,
            operations.clone(),
        );
        let connections = TenantConnections::new(config.limits.clone(), config.sealer.clone());
        let directory = Arc::new(TenantDirectory::new(registry.clone(), config.limits.registry_cache_ttl));
        let invalidation = Invalidation::new(registry.clone(), directory.clone(), connections.clone());
        let lifecycle = Lifecycle::new(
            registry.clone(),
            provisioner,
            invalidation.clone(),
            config.sealer.clone(),
            operations,
        );
        Ok(Services {
            registry,
            directory,
            connections,
            invalidation,
            lifecycle,
        })
    }
}
