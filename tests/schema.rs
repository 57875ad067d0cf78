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
