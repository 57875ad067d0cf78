//! The committed SDL files are the schemas the code builds.

#[test]
fn schema_graphql_matches_the_tenant_schema() {
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql")).expect("schema.graphql");
    let built = nusa_journal::graphql::tenant::schema().sdl();
    assert!(
        committed == built,
        "schema.graphql is stale: run `cargo run -- schema > schema.graphql`"
    );
}

#[test]
fn schema_admin_graphql_matches_the_admin_schema() {
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.admin.graphql"))
        .expect("schema.admin.graphql");
    let built = nusa_journal::graphql::admin::schema_for_sdl().sdl();
    assert!(
        committed == built,
        "schema.admin.graphql is stale: run `cargo run -- schema --admin > schema.admin.graphql`"
    );
}

/// Migrations run in list order and are recorded by name: names must be
/// `mYYYYMMDD_HHMMSS_what`, unique, and listed in increasing order.
fn check_migration_names(names: Vec<String>) {
    assert!(!names.is_empty());
    for name in &names {
        let bytes = name.as_bytes();
        let shaped = name.len() > 17
            && bytes[0] == b'm'
            && bytes[1..9].iter().all(u8::is_ascii_digit)
            && bytes[9] == b'_'
            && bytes[10..16].iter().all(u8::is_ascii_digit)
            && bytes[16] == b'_';
        assert!(shaped, "{name} is not mYYYYMMDD_HHMMSS_name");
    }
    assert!(
        names.windows(2).all(|w| w[0] < w[1]),
        "migrations out of order: {names:?}"
    );
}

#[test]
fn tenant_and_registry_migrations_are_named_and_ordered() {
    use sea_orm_migration::MigratorTrait;
    check_migration_names(
        migration::Migrator::migrations()
            .iter()
            .map(|m| m.name().to_owned())
            .collect(),
    );
    check_migration_names(
        registry_migration::Migrator::migrations()
            .iter()
            .map(|m| m.name().to_owned())
            .collect(),
    );
    assert_eq!(migration::latest_version(), "m20261201_000004_posting_hardening");
}
