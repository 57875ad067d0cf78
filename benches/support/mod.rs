//! What the benchmarks share: command-line options and a service configuration on a
//! throwaway cluster.
#![allow(dead_code)]

use local_postgres::LocalCluster;
use nusa_journal::config::{ApiLimits, ServiceConfig, TenancyLimits, DEFAULT_ROLE_PREFIX};
use nusa_journal::embedded::ensure_database;
use nusa_journal::tenancy::sealing::{MasterKey, Sealer};
use secrecy::SecretString;

/// `--name value` from the command line, or `default`.
pub fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A configuration with a fresh registry database on `cluster`.
pub async fn service_config(cluster: &LocalCluster, limits: TenancyLimits, use_template: bool) -> ServiceConfig {
    let registry_db = format!("bench_registry_{}", uuid::Uuid::new_v4().simple());
    ensure_database(&cluster.superuser_url("postgres"), &registry_db)
        .await
        .expect("registry db");
    ServiceConfig {
        registry_url: cluster.superuser_url(&registry_db),
        tenant_admin_url: cluster.superuser_url("postgres"),
        tenant_db_host: "127.0.0.1".into(),
        tenant_db_port: cluster.port(),
        tenant_role_prefix: DEFAULT_ROLE_PREFIX.into(),
        sealer: Sealer::new(
            MasterKey::from_base64(&MasterKey::generate_base64()).expect("key"),
            vec![],
        ),
        admin_token: SecretString::from("bench-admin-token-0123456789"),
        limits,
        bind_addr: "127.0.0.1:0".parse().expect("addr"),
        admin_bind_addr: None,
        use_template,
        api: ApiLimits {
            metrics_tenant_labels: 0,
            ..ApiLimits::default()
        },
    }
}
