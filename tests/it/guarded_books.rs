//! Books the login role cannot rewrite (issue 12, points 3 and 4): each tenant's NOLOGIN
//! owner role owns everything; the login role, connected with its own sealed password,
//! is refused every way around the ledger's guards; tenants made before the owner role
//! are converted by `migrate tenants`; restores keep the layout; posting racing a
//! lock-date change never lands inside the locked period.

use crate::common;

use common::{error_code, run_cli, TestApp, TestTenant};
use migration::{sqlstate, MigratorTrait};
use nusa_journal::ledger::journal::{entry_number, fiscal_year};
use nusa_journal::tenancy::credentials::{single_connection, unseal};
use nusa_journal::tenancy::ownership::{self, Access};
use nusa_journal::tenancy::registry::admin_connection_to;
use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use serde_json::{json, Value};

const CREATE: &str =
    "mutation($input: CreateJournalEntryInput!) { createJournalEntry(input: $input) { id number status date } }";
const POST: &str = "mutation($id: ID!) { postJournalEntry(id: $id) { id number status } }";
const LOCK: &str = "mutation($d: Date) { updateCompany(input: { lockDate: $d }) { lockDate } }";
const TRIAL_BALANCE: &str =
    r#"{ trialBalance(asOf: "2099-12-31") { totalDebit totalCredit rows { account { code } debit credit } } }"#;

async fn gql(app: &TestApp, tenant: &TestTenant, query: &str, variables: Value) -> Value {
    let (status, body) = app.tenant(&tenant.slug, Some(&tenant.token), query, variables).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn ok(app: &TestApp, tenant: &TestTenant, query: &str, variables: Value) -> Value {
    let body = gql(app, tenant, query, variables).await;
    assert!(body["errors"].is_null(), "{body}");
    body["data"].clone()
}

async fn account_id(app: &TestApp, tenant: &TestTenant, code: &str) -> String {
    let data = ok(
        app,
        tenant,
        "query($c: String) { account(code: $c) { id } }",
        json!({ "c": code }),
    )
    .await;
    data["account"]["id"].as_str().expect("account id").to_owned()
}

fn lines(debit: &str, credit: &str, amount: &str) -> Value {
    json!([{ "accountId": debit, "debit": amount }, { "accountId": credit, "credit": amount }])
}

/// Creates an entry (posted when `post`); its data.
async fn entry(app: &TestApp, tenant: &TestTenant, date: &str, lines: Value, post: bool) -> Value {
    let input = json!({ "input": { "date": date, "description": "Uji", "lines": lines, "post": post } });
    ok(app, tenant, CREATE, input).await["createJournalEntry"].clone()
}

async fn scalar(db: &DatabaseConnection, sql: &str) -> String {
    let row = db
        .query_one_raw(Statement::from_string(DbBackend::Postgres, sql.to_owned()))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .expect("a row");
    row.try_get::<Option<String>>("", "v")
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .unwrap_or_default()
}

/// The posted books and the counter, as one text: equal texts, equal books.
async fn books_text(db: &DatabaseConnection) -> String {
    let entries = scalar(
        db,
        "SELECT string_agg(concat_ws('|', e.number, e.status, e.date, e.fiscal_year, e.sequence, e.posted_at,
                                     l.line_no, l.account_id, l.debit, l.credit), ';' ORDER BY e.number, l.line_no) AS v
           FROM journal_entry e JOIN journal_line l ON l.entry_id = e.id WHERE e.status <> 'DRAFT'",
    )
    .await;
    let counter = scalar(
        db,
        "SELECT string_agg(fiscal_year || ':' || last_number, ',' ORDER BY fiscal_year) AS v FROM journal_sequence",
    )
    .await;
    format!("{entries}\n{counter}")
}

/// Codes, types and sides of the chart, and the fiscal year start: what reports rest on.
async fn accounts_text(db: &DatabaseConnection) -> String {
    scalar(
        db,
        "SELECT (SELECT string_agg(concat_ws('|', id, code, type, normal_balance), ';' ORDER BY id) FROM account)
                || '\n' || (SELECT fiscal_year_start_month FROM company) AS v",
    )
    .await
}

async fn row_of(app: &TestApp, slug: &str) -> nusa_journal::entities::registry::tenants::Model {
    common::tenant_row(app, slug).await.expect("tenant row")
}

/// A connection as the tenant's login role, with the password sealed in the registry.
async fn as_login_role(app: &TestApp, slug: &str) -> DatabaseConnection {
    let row = row_of(app, slug).await;
    let password = unseal(app.services.lifecycle.sealer(), &row).expect("unseal");
    single_connection(&row, &password, "test-login-role")
        .await
        .expect("connect as the login role")
}

/// Everything in the tenant database belongs to its owner role.
async fn assert_owned_by_the_owner_role(app: &TestApp, slug: &str) {
    let row = row_of(app, slug).await;
    let owner = ownership::owner_role(&row.db_username);
    let db = common::superuser(&row.db_name).await;
    let foreign = scalar(
        &db,
        &format!(
            "SELECT concat_ws(',',
               (SELECT string_agg(datname, ',') FROM pg_database WHERE datname = current_database()
                  AND pg_get_userbyid(datdba) <> '{owner}'),
               (SELECT string_agg(nspname, ',') FROM pg_namespace WHERE nspname = 'public'
                  AND pg_get_userbyid(nspowner) <> '{owner}'),
               (SELECT string_agg(relname, ',') FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                  WHERE n.nspname = 'public' AND pg_get_userbyid(c.relowner) <> '{owner}'),
               (SELECT string_agg(proname, ',') FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                  WHERE n.nspname = 'public' AND pg_get_userbyid(p.proowner) <> '{owner}')) AS v"
        ),
    )
    .await;
    assert_eq!(foreign, "", "objects not owned by {owner}");
    let login = &row.db_username;
    let (rolcanlogin, member) = (
        scalar(
            &db,
            &format!("SELECT rolcanlogin::text AS v FROM pg_roles WHERE rolname = '{owner}'"),
        )
        .await,
        scalar(
            &db,
            &format!("SELECT pg_has_role('{login}', '{owner}', 'MEMBER')::text AS v"),
        )
        .await,
    );
    assert_eq!((rolcanlogin.as_str(), member.as_str()), ("false", "false"));
}

/// What the tests below do to the books before trying to rewrite them: a posted entry,
/// a draft dated on the lock date, a draft on two accounts that have no other lines.
struct Fixture {
    posted: String,
    on_lock_date: String,
    kas: String,
    modal: String,
    /// An account whose only line is in a draft.
    drafted: String,
    /// An account with no line at all.
    unused: String,
}

async fn fixture(app: &TestApp, tenant: &TestTenant) -> Fixture {
    let (kas, modal) = (
        account_id(app, tenant, "1-1101").await,
        account_id(app, tenant, "3-1001").await,
    );
    let posted = entry(app, tenant, "2026-03-01", lines(&kas, &modal, "100.00"), true).await;
    assert_eq!(posted["status"], "POSTED");
    let draft = entry(app, tenant, "2026-02-28", lines(&kas, &modal, "40.00"), false).await;
    ok(app, tenant, LOCK, json!({ "d": "2026-02-28" })).await;
    let (drafted, income) = (
        account_id(app, tenant, "1-1102").await,
        account_id(app, tenant, "4-1004").await,
    );
    entry(app, tenant, "2026-05-01", lines(&drafted, &income, "3.00"), false).await;
    Fixture {
        posted: posted["id"].as_str().expect("id").to_owned(),
        on_lock_date: draft["id"].as_str().expect("id").to_owned(),
        kas,
        modal,
        drafted,
        unused: account_id(app, tenant, "1-1103").await,
    }
}

/// The SQLSTATE a statement was refused with (panics if it was not refused).
fn refused_with(what: &str, result: Result<sea_orm::ExecResult, sea_orm::DbErr>) -> String {
    match result {
        Ok(_) => panic!("the login role could: {what}"),
        Err(err) => nusa_journal::error::sqlstate(&err).unwrap_or_else(|| panic!("{what}: {err}")),
    }
}

/// The SQL test of issue 12: as the login role, each way around the guards is refused
/// (by a missing privilege, 42501, or by a guard's own SQLSTATE), and the books are
/// unchanged afterwards.
async fn assert_login_role_cannot_rewrite(app: &TestApp, tenant: &TestTenant) {
    assert_owned_by_the_owner_role(app, &tenant.slug).await;
    let f = fixture(app, tenant).await;
    let row = row_of(app, &tenant.slug).await;
    let observer = common::superuser(&row.db_name).await;
    let before = books_text(&observer).await;
    let tb_before = ok(app, tenant, TRIAL_BALANCE, json!({})).await;
    let owner = ownership::owner_role(&row.db_username);
    let (posted, draft, kas, modal, drafted) = (&f.posted, &f.on_lock_date, &f.kas, &f.modal, &f.drafted);
    let accounts_before = accounts_text(&observer).await;
    let frozen = sqlstate::REPORT_KEY_FROZEN;

    let login = as_login_role(app, &tenant.slug).await;
    let denied = "42501";
    let attempts: Vec<(&str, String, &str)> = vec![
        ("disable the triggers", "ALTER TABLE journal_line DISABLE TRIGGER USER".into(), denied),
        ("disable a trigger", "ALTER TABLE journal_entry DISABLE TRIGGER journal_entry_number".into(), denied),
        ("drop a trigger", "DROP TRIGGER journal_line_guard ON journal_line".into(), denied),
        ("drop a guard function", "DROP FUNCTION nusa_number_journal_entry() CASCADE".into(), denied),
        ("replace a guard", "CREATE OR REPLACE FUNCTION nusa_guard_journal_line() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$".into(), denied),
        ("truncate the lines", "TRUNCATE journal_line".into(), denied),
        ("truncate the entries", "TRUNCATE journal_entry CASCADE".into(), denied),
        ("update a posted line", format!("UPDATE journal_line SET debit = debit + 1 WHERE entry_id = '{posted}' AND debit > 0"), denied),
        ("delete a posted line", format!("DELETE FROM journal_line WHERE entry_id = '{posted}'"), sqlstate::POSTED_ENTRY_CHANGED),
        ("delete a posted entry", format!("DELETE FROM journal_entry WHERE id = '{posted}'"), sqlstate::POSTED_ENTRY_CHANGED),
        ("renumber a posted entry", format!("UPDATE journal_entry SET number = 'JE/2026/000777' WHERE id = '{posted}'"), sqlstate::POSTED_ENTRY_CHANGED),
        (
            "insert a POSTED entry with lines and a made-up number",
            format!(
                "INSERT INTO journal_entry (id, number, fiscal_year, sequence, date, description, status, posted_at)
                   VALUES ('00000000-0000-4000-8000-000000000001', 'JE/2026/999999', 2026, 999999, '2026-06-01', 'by hand', 'POSTED', now());
                 INSERT INTO journal_line (id, entry_id, line_no, account_id, debit, credit) VALUES
                   (gen_random_uuid(), '00000000-0000-4000-8000-000000000001', 1, '{kas}', 5, 0),
                   (gen_random_uuid(), '00000000-0000-4000-8000-000000000001', 2, '{modal}', 0, 5)"
            ),
            sqlstate::POSTING_BYPASSED,
        ),
        ("move the counter", "UPDATE journal_sequence SET last_number = last_number + 10".into(), denied),
        ("start a counter", "INSERT INTO journal_sequence (fiscal_year, last_number) VALUES (2031, 7)".into(), denied),
        ("reset the counter", "DELETE FROM journal_sequence".into(), denied),
        ("mark POSTED -> REVERSED without a reversing entry", format!("UPDATE journal_entry SET status = 'REVERSED' WHERE id = '{posted}'"), sqlstate::POSTING_BYPASSED),
        (
            "reverse with an entry that does not mirror it",
            format!(
                "INSERT INTO journal_entry (id, date, description, reversal_of, kind)
                   VALUES ('00000000-0000-4000-8000-000000000002', '2026-06-02', 'fake reversal', '{posted}', 'REVERSAL');
                 INSERT INTO journal_line (id, entry_id, line_no, account_id, debit, credit) VALUES
                   (gen_random_uuid(), '00000000-0000-4000-8000-000000000002', 1, '{kas}', 1, 0),
                   (gen_random_uuid(), '00000000-0000-4000-8000-000000000002', 2, '{modal}', 0, 1);
                 UPDATE journal_entry SET status = 'POSTED' WHERE id = '00000000-0000-4000-8000-000000000002';
                 UPDATE journal_entry SET status = 'REVERSED' WHERE id = '{posted}'"
            ),
            sqlstate::POSTING_BYPASSED,
        ),
        ("post a DRAFT dated on the lock date", format!("UPDATE journal_entry SET status = 'POSTED' WHERE id = '{draft}'"), sqlstate::PERIOD_LOCKED),
        (
            "post a DRAFT with a number of its own choosing",
            format!("UPDATE journal_entry SET number = 'JE/2026/000500', sequence = 500 WHERE id = '{draft}'"),
            sqlstate::POSTING_BYPASSED,
        ),
        ("recode an account with posted lines", format!("UPDATE account SET code = '1-1199' WHERE id = '{kas}'"), frozen),
        ("retype an account with posted lines", format!("UPDATE account SET type = 'EXPENSE' WHERE id = '{kas}'"), frozen),
        ("flip the side of an account with posted lines", format!("UPDATE account SET normal_balance = 'CREDIT' WHERE id = '{kas}'"), frozen),
        (
            "swap the codes of two accounts with posted lines",
            format!(
                "UPDATE account SET code = CASE WHEN id = '{kas}' THEN (SELECT code FROM account WHERE id = '{modal}')
                                                ELSE (SELECT code FROM account WHERE id = '{kas}') END
                  WHERE id IN ('{kas}', '{modal}')"
            ),
            frozen,
        ),
        ("recode an account whose only line is a draft's", format!("UPDATE account SET code = '1-1198' WHERE id = '{drafted}'"), frozen),
        ("flip the side of an account whose only line is a draft's", format!("UPDATE account SET normal_balance = 'CREDIT' WHERE id = '{drafted}'"), frozen),
        (
            "move the fiscal year start",
            "UPDATE company SET fiscal_year_start_month = fiscal_year_start_month % 12 + 1".into(),
            frozen,
        ),
        ("drop the schema", "DROP SCHEMA public CASCADE".into(), denied),
        ("create a table", "CREATE TABLE intruder (id integer)".into(), denied),
        ("create a temporary table", "CREATE TEMPORARY TABLE intruder (id integer)".into(), denied),
        ("create a schema", "CREATE SCHEMA intruder".into(), denied),
        ("drop a constraint", "ALTER TABLE journal_entry DROP CONSTRAINT journal_entry_number_key".into(), denied),
        ("become the owner", format!(r#"SET ROLE "{owner}""#), denied),
        ("grant itself more", format!(r#"GRANT "{owner}" TO CURRENT_USER"#), denied),
    ];
    for (what, sql, expected) in &attempts {
        let code = refused_with(what, login.execute_unprepared(sql).await);
        assert_eq!(&code, expected, "{what}: refused, but with {code}");
    }
    // The guards are not broader than the rule: an account without lines may still be
    // recoded, and every account renamed; the fiscal year start may be written unchanged.
    let unused = &f.unused;
    login
        .execute_unprepared(&format!(
            "UPDATE account SET code = '1-1197', normal_balance = 'CREDIT' WHERE id = '{unused}';
             UPDATE account SET code = '1-1103', normal_balance = 'DEBIT' WHERE id = '{unused}';
             UPDATE account SET name = name WHERE id = '{kas}';
             UPDATE company SET fiscal_year_start_month = fiscal_year_start_month"
        ))
        .await
        .expect("changes the rules allow");
    login.close().await.ok();

    // DROP DATABASE of its own, from another database (the login role can connect only
    // to its own): a superuser session acting as it.
    let elsewhere = common::superuser("postgres").await;
    elsewhere
        .execute_unprepared(&format!(r#"SET ROLE "{}""#, row.db_username))
        .await
        .expect("set role");
    let drop_db = elsewhere
        .execute_unprepared(&format!(r#"DROP DATABASE "{}""#, row.db_name))
        .await;
    assert_eq!(refused_with("drop its database", drop_db), denied);
    elsewhere.close().await.ok();

    assert_eq!(books_text(&observer).await, before, "the books are unchanged");
    assert_eq!(
        accounts_text(&observer).await,
        accounts_before,
        "the chart and company are unchanged"
    );
    assert_eq!(ok(app, tenant, TRIAL_BALANCE, json!({})).await, tb_before);
    observer.close().await.ok();

    assert_normal_use_works(app, tenant, &f).await;
}

/// What the service does as the login role still works: create, update and delete a
/// draft, post, reverse, archive, update the company; a post on the lock date is
/// PERIOD_LOCKED.
async fn assert_normal_use_works(app: &TestApp, tenant: &TestTenant, f: &Fixture) {
    let body = gql(app, tenant, POST, json!({ "id": f.on_lock_date })).await;
    assert_eq!(error_code(&body), "PERIOD_LOCKED", "{body}");
    let draft = entry(app, tenant, "2026-04-01", lines(&f.kas, &f.modal, "10.00"), false).await;
    let id = draft["id"].as_str().expect("id");
    ok(
        app,
        tenant,
        "mutation($id: ID!, $input: UpdateJournalEntryInput!) { updateJournalEntry(id: $id, input: $input) { id } }",
        json!({ "id": id, "input": { "description": "Diubah", "lines": lines(&f.kas, &f.modal, "12.00") } }),
    )
    .await;
    let posted = ok(app, tenant, POST, json!({ "id": id })).await;
    let number = posted["postJournalEntry"]["number"].as_str().expect("number");
    let start = ok(app, tenant, "{ company { fiscalYearStartMonth } }", json!({})).await["company"]
        ["fiscalYearStartMonth"]
        .as_u64()
        .expect("month") as u32;
    let date = chrono::NaiveDate::from_ymd_opt(2026, 4, 1).expect("date");
    let prefix = format!("JE/{}/", fiscal_year(date, start));
    assert!(number.starts_with(&prefix), "{number}, not {prefix}");
    // Once posted, the service refuses to move the fiscal year start (its own check,
    // before the database's); the same month is no change.
    let month = |m: u32| {
        format!("mutation {{ updateCompany(input: {{ fiscalYearStartMonth: {m} }}) {{ fiscalYearStartMonth }} }}")
    };
    let moved = gql(app, tenant, &month(start % 12 + 1), json!({})).await;
    assert_eq!(error_code(&moved), "CONFLICT", "{moved}");
    assert_eq!(
        moved["errors"][0]["extensions"]["field"], "input.fiscalYearStartMonth",
        "{moved}"
    );
    ok(app, tenant, &month(start), json!({})).await;
    ok(
        app,
        tenant,
        "mutation($id: ID!) { reverseJournalEntry(id: $id, date: \"2026-04-02\") { status reversalOf { id } } }",
        json!({ "id": id }),
    )
    .await;
    let gone = entry(app, tenant, "2026-04-03", lines(&f.kas, &f.modal, "1.00"), false).await;
    ok(
        app,
        tenant,
        "mutation($id: ID!) { deleteJournalEntry(id: $id) }",
        json!({ "id": gone["id"] }),
    )
    .await;
    let leaf = account_id(app, tenant, "6-2001").await;
    ok(
        app,
        tenant,
        "mutation($id: ID!) { archiveAccount(id: $id) { isArchived } }",
        json!({ "id": leaf }),
    )
    .await;
    ok(
        app,
        tenant,
        r#"mutation { updateCompany(input: { legalName: "PT Dijaga Tbk" }) { legalName } }"#,
        json!({}),
    )
    .await;
    let tb = ok(app, tenant, TRIAL_BALANCE, json!({})).await;
    assert_eq!(tb["trialBalance"]["totalDebit"], tb["trialBalance"]["totalCredit"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_login_role_cannot_rewrite_the_books_of_a_new_tenant() {
    // From the template, and from plain migrations.
    for use_template in [true, false] {
        let app = TestApp::spawn_with(|c| c.use_template = use_template).await;
        let tenant = app.create_tenant("guarded", "PT Dijaga").await;
        // The database numbers as the Rust rules say (fiscal year from July here).
        ok(
            &app,
            &tenant,
            "mutation { updateCompany(input: { fiscalYearStartMonth: 7 }) { fiscalYearStartMonth } }",
            json!({}),
        )
        .await;
        let (kas, modal) = (
            account_id(&app, &tenant, "1-1101").await,
            account_id(&app, &tenant, "3-1001").await,
        );
        let first = entry(&app, &tenant, "2026-03-01", lines(&kas, &modal, "5.00"), true).await;
        let date = chrono::NaiveDate::from_ymd_opt(2026, 3, 1).expect("date");
        assert_eq!(
            first["number"],
            entry_number(fiscal_year(date, 7), 1),
            "template: {use_template}"
        );
        assert_login_role_cannot_rewrite(&app, &tenant).await;
    }
}

/// Turns a tenant back into the layout of before the owner role: the login role owns
/// the database and everything in it, the newest migration is not applied, the
/// registry knows the older version.
async fn make_old_layout(app: &TestApp, slug: &str) {
    let row = row_of(app, slug).await;
    let owner = ownership::owner_role(&row.db_username);
    let as_owner = ownership::owner_connection(&app.config.tenant_admin_url, &row.db_name, &owner, "test")
        .await
        .expect("owner connection");
    migration::Migrator::down(&as_owner, Some(1)).await.expect("down");
    as_owner.close().await.ok();
    let login = &row.db_username;
    let db = admin_connection_to(&app.config.tenant_admin_url, &row.db_name, "test")
        .await
        .expect("admin");
    db.execute_unprepared(&format!(
        r#"REASSIGN OWNED BY "{owner}" TO "{login}";
           ALTER SCHEMA public OWNER TO pg_database_owner;
           DROP OWNED BY "{owner}";
           DROP ROLE "{owner}";"#
    ))
    .await
    .expect("old layout");
    db.close().await.ok();
    let previous = migration::Migrator::migrations()
        .iter()
        .rev()
        .nth(1)
        .map(|m| m.name().to_owned());
    app.services
        .registry
        .db()
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "UPDATE tenants SET schema_version = $1, last_migration_result = NULL WHERE slug = $2",
            [previous.into(), slug.into()],
        ))
        .await
        .expect("registry");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_from_before_the_owner_role_is_converted_by_migrate_tenants() {
    let app = TestApp::spawn().await;
    let tenant = app.create_tenant("oldlayout", "PT Lama").await;
    let (kas, modal) = (
        account_id(&app, &tenant, "1-1101").await,
        account_id(&app, &tenant, "3-1001").await,
    );
    entry(&app, &tenant, "2026-01-10", lines(&kas, &modal, "70.00"), true).await;
    make_old_layout(&app, &tenant.slug).await;

    // The old layout is what issue 12 found: the login role owns the tables.
    let login = as_login_role(&app, &tenant.slug).await;
    login
        .execute_unprepared(
            "ALTER TABLE journal_line DISABLE TRIGGER USER; ALTER TABLE journal_line ENABLE TRIGGER USER",
        )
        .await
        .expect("the owner of a table may switch off its triggers");
    login.close().await.ok();

    let (ok_run, out, err) = run_cli(&["migrate", "tenants", "--tenant", &tenant.slug], &app.process_env()).await;
    assert!(ok_run, "{out}{err}");
    assert!(out.contains(&format!("{}: migrated from", tenant.slug)), "{out}");
    assert_eq!(
        row_of(&app, &tenant.slug).await.schema_version,
        Some(migration::latest_version())
    );
    assert_login_role_cannot_rewrite(&app, &tenant).await;

    // Run again: nothing to migrate, the layout is kept.
    let (ok_again, out, err) = run_cli(&["migrate", "tenants"], &app.process_env()).await;
    assert!(ok_again, "{out}{err}");
    assert_owned_by_the_owner_role(&app, &tenant.slug).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restored_tenant_is_owned_by_its_owner_role_and_keeps_its_guards() {
    let app = TestApp::spawn().await;
    let tenant = app.create_tenant("restored", "PT Pulih").await;
    let (kas, modal) = (
        account_id(&app, &tenant, "1-1101").await,
        account_id(&app, &tenant, "3-1001").await,
    );
    entry(&app, &tenant, "2026-01-10", lines(&kas, &modal, "70.00"), true).await;
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("backup.dump");
    let path = file.to_str().expect("path");
    let env = app.process_env();
    let (done, out, err) = run_cli(&["tenant", "backup", &tenant.slug, "--out", path], &env).await;
    assert!(done, "{out}{err}");
    let old_db = row_of(&app, &tenant.slug).await.db_name;
    let (done, out, err) = run_cli(&["tenant", "restore", &tenant.slug, "--from", path], &env).await;
    assert!(done, "{out}{err}");
    assert_ne!(row_of(&app, &tenant.slug).await.db_name, old_db);
    let serving = common::eventually(std::time::Duration::from_secs(5), || async {
        let (status, body) = app
            .tenant(
                &tenant.slug,
                Some(&tenant.token),
                "{ journalEntries(first: 5) { totalCount } }",
                json!({}),
            )
            .await;
        status == StatusCode::OK && body["data"]["journalEntries"]["totalCount"] == 1
    })
    .await;
    assert!(serving, "the restored books are served");
    assert_login_role_cannot_rewrite(&app, &tenant).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_tenant_reads_but_the_database_refuses_its_writes() {
    let app = TestApp::spawn().await;
    let tenant = app.create_tenant("paused", "PT Jeda").await;
    let row = row_of(&app, &tenant.slug).await;
    let admin = admin_connection_to(&app.config.tenant_admin_url, &row.db_name, "test")
        .await
        .expect("admin");
    ownership::set_writable(&admin, &row.db_username, Access::ReadOnly)
        .await
        .expect("pause");
    let login = as_login_role(&app, &tenant.slug).await;
    let write = login.execute_unprepared("UPDATE company SET legal_name = 'x'").await;
    assert_eq!(refused_with("write while paused", write), "42501");
    ok(&app, &tenant, "{ company { name } }", json!({})).await;
    ownership::set_writable(&admin, &row.db_username, Access::ReadWrite)
        .await
        .expect("resume");
    login
        .execute_unprepared("UPDATE company SET legal_name = 'PT Jeda Lagi'")
        .await
        .expect("writes again");
    login.close().await.ok();
    admin.close().await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posting_racing_a_lock_date_change_never_lands_in_the_locked_period() {
    let app = TestApp::spawn().await;
    let tenant = app.create_tenant("lockrace", "PT Balapan").await;
    let (kas, modal) = (
        account_id(&app, &tenant, "1-1101").await,
        account_id(&app, &tenant, "3-1001").await,
    );
    let row = row_of(&app, &tenant.slug).await;
    let observer = common::superuser(&row.db_name).await;
    let start = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).expect("date");
    let (mut posted, mut locked_out) = (0, 0);
    for round in 0..50u64 {
        let date = (start + chrono::Days::new(round)).to_string();
        let draft = entry(&app, &tenant, &date, lines(&kas, &modal, "1.00"), false).await;
        let id = draft["id"].as_str().expect("id").to_owned();
        // The lock date moves over the draft's date while it is being posted.
        let (post, lock) = tokio::join!(
            gql(&app, &tenant, POST, json!({ "id": id })),
            gql(&app, &tenant, LOCK, json!({ "d": date })),
        );
        assert!(lock["errors"].is_null(), "{lock}");
        let changed_at = scalar(
            &observer,
            "SELECT to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') AS v FROM company",
        )
        .await;
        if post["errors"].is_null() {
            posted += 1;
            // Posted: then it committed before the change took the company row.
            let posted_at = scalar(
                &observer,
                &format!(
                    "SELECT to_char(posted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') AS v FROM journal_entry WHERE id = '{id}'"
                ),
            )
            .await;
            assert!(
                posted_at < changed_at,
                "round {round}: posted at {posted_at}, after the lock date moved over it at {changed_at}"
            );
        } else {
            locked_out += 1;
            assert_eq!(error_code(&post), "PERIOD_LOCKED", "round {round}: {post}");
            let status = scalar(
                &observer,
                &format!("SELECT status AS v FROM journal_entry WHERE id = '{id}'"),
            )
            .await;
            assert_eq!(status, "DRAFT");
        }
    }
    // Whatever the interleaving: every posted entry dated inside the final locked period
    // was posted before the lock date reached its date (checked per round above), and
    // the numbers have no gaps.
    let numbers = scalar(
        &observer,
        "SELECT (count(*) = coalesce(max(sequence), 0) AND count(*) = count(DISTINCT number))::text AS v
           FROM journal_entry WHERE status <> 'DRAFT'",
    )
    .await;
    assert_eq!(numbers, "true");
    assert_eq!(posted + locked_out, 50);
    println!("lock-date race: {posted} posted before the change, {locked_out} refused after it");
}
