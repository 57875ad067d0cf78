//! What browser frontends and GraphQL client libraries meet: CORS, the GraphiQL pages
//! and their embedded assets (also in a real headless browser), GraphQL over GET with
//! content negotiation, and a real client (`@urql/core`) in its default configuration.

use crate::common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{error_code, ServerProcess, TestApp};
use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde_json::{json, Value};

const FRONTEND: &str = "https://books.example.com";
const BROWSER_ACCEPT: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
const ACCOUNTS: &str = "query Accounts($n: Int) { accounts(first: $n) { totalCount nodes { code } } }";

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
}

/// The comma-separated values of a header, lower-cased.
fn listed(headers: &HeaderMap, name: &str) -> Vec<String> {
    header(headers, name)
        .split(',')
        .map(|v| v.trim().to_ascii_lowercase())
        .filter(|v| !v.is_empty())
        .collect()
}

async fn preflight(app: &TestApp, path: &str, origin: &str) -> reqwest::Response {
    app.client
        .request(reqwest::Method::OPTIONS, format!("{}{path}", app.base))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "authorization,content-type")
        .send()
        .await
        .expect("preflight")
}

#[tokio::test]
async fn cors_lets_the_configured_origins_in_and_no_other() {
    let app = TestApp::spawn_with_cors(&[FRONTEND, "http://localhost:5173"]).await;
    let t = app.create_tenant("cors", "PT Lintas Asal").await;
    let path = format!("/{}/graphql", t.slug);

    let allowed = preflight(&app, &path, FRONTEND).await;
    assert!(allowed.status().is_success(), "{}", allowed.status());
    let h = allowed.headers();
    assert_eq!(header(h, "access-control-allow-origin"), FRONTEND);
    for method in ["get", "post", "options"] {
        assert!(
            listed(h, "access-control-allow-methods").contains(&method.to_owned()),
            "{h:?}"
        );
    }
    for name in ["authorization", "content-type", "accept", "x-request-id"] {
        assert!(
            listed(h, "access-control-allow-headers").contains(&name.to_owned()),
            "{h:?}"
        );
    }
    assert_eq!(header(h, "access-control-max-age"), "600");
    assert!(
        h.get("access-control-allow-credentials").is_none(),
        "no credentials: {h:?}"
    );

    let response = app
        .client
        .post(format!("{}{path}", app.base))
        .header("origin", FRONTEND)
        .bearer_auth(&t.token)
        .json(&json!({ "query": "{ company { name } }" }))
        .send()
        .await
        .expect("POST");
    let h = response.headers().clone();
    assert_eq!(header(&h, "access-control-allow-origin"), FRONTEND);
    for name in ["retry-after", "content-disposition", "x-request-id"] {
        assert!(
            listed(&h, "access-control-expose-headers").contains(&name.to_owned()),
            "{h:?}"
        );
    }
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["data"]["company"]["name"], "PT Lintas Asal");

    // Errors carry the headers too, so the frontend can read them.
    let refused = app
        .client
        .post(format!("{}{path}", app.base))
        .header("origin", FRONTEND)
        .json(&json!({ "query": "{ company { name } }" }))
        .send()
        .await
        .expect("POST without a token");
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(header(refused.headers(), "access-control-allow-origin"), FRONTEND);

    let other = preflight(&app, &path, "https://evil.example.com").await;
    assert!(
        other.headers().get("access-control-allow-origin").is_none(),
        "{:?}",
        other.headers()
    );
    let prefix = preflight(&app, &path, "https://books.example.com.evil.example").await;
    assert!(
        prefix.headers().get("access-control-allow-origin").is_none(),
        "exact origins only"
    );

    // Unset: no CORS headers at all.
    let plain = TestApp::spawn().await;
    let response = preflight(&plain, "/admin/graphql", FRONTEND).await;
    assert!(
        response
            .headers()
            .keys()
            .all(|name| !name.as_str().starts_with("access-control-")),
        "{:?}",
        response.headers()
    );
}

/// The `src` and `href` values of an HTML page.
fn links(html: &str) -> Vec<String> {
    let parts: Vec<&str> = html.split('"').collect();
    parts
        .windows(2)
        .filter(|pair| {
            let before = pair[0].trim_end();
            before.ends_with("src=") || before.ends_with("href=")
        })
        .map(|pair| pair[1].to_owned())
        .collect()
}

#[tokio::test]
async fn graphiql_pages_load_only_assets_the_service_serves() {
    let app = TestApp::spawn().await;
    let t = app.create_tenant("graphiql", "PT Halaman").await;
    for (path, endpoint) in [
        (format!("/{}/graphql", t.slug), format!("\"/{}/graphql\"", t.slug)),
        ("/admin/graphql".to_owned(), "\"/admin/graphql\"".to_owned()),
    ] {
        let page = app
            .client
            .get(format!("{}{path}", app.base))
            .header("accept", BROWSER_ACCEPT)
            .send()
            .await
            .expect("page");
        assert_eq!(page.status(), StatusCode::OK, "{path}");
        assert!(
            header(page.headers(), "content-type").starts_with("text/html"),
            "{path}"
        );
        assert_eq!(
            header(page.headers(), "x-frame-options"),
            "DENY",
            "{path} cannot be framed"
        );
        assert_eq!(
            header(page.headers(), "content-security-policy"),
            "frame-ancestors 'none'",
            "{path}"
        );
        let html = page.text().await.expect("html");
        assert!(html.contains(&endpoint), "{path} points GraphiQL at {endpoint}");
        let links = links(&html);
        assert_eq!(
            links.len(),
            4,
            "{path}: react, react-dom, graphiql.js, graphiql.css: {links:?}"
        );
        for link in links {
            assert!(
                link.starts_with('/') && !link.starts_with("//") && !link.contains(':'),
                "{path} loads {link} from elsewhere"
            );
            let asset = app
                .client
                .get(format!("{}{link}", app.base))
                .send()
                .await
                .expect("asset");
            assert_eq!(asset.status(), StatusCode::OK, "{link}");
            let h = asset.headers().clone();
            let expected = if link.ends_with(".css") {
                "text/css"
            } else {
                "text/javascript"
            };
            assert!(header(&h, "content-type").starts_with(expected), "{link}: {h:?}");
            assert!(
                header(&h, "cache-control").contains("max-age=31536000"),
                "{link}: {h:?}"
            );
            let etag = header(&h, "etag").to_owned();
            assert!(etag.starts_with('"'), "{link}: {h:?}");
            assert!(asset.bytes().await.expect("bytes").len() > 1000, "{link}");
            let again = app
                .client
                .get(format!("{}{link}", app.base))
                .header("if-none-match", &etag)
                .send()
                .await
                .expect("revalidation");
            assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{link}");
        }
    }
    let missing = app
        .client
        .get(format!("{}/assets/graphiql/graphiql.js", app.base))
        .send()
        .await
        .expect("missing asset");
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

/// `chromium` or `chromium-browser` on PATH.
fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| [dir.join("chromium"), dir.join("chromium-browser")])
        .find(|candidate| candidate.is_file())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphiql_renders_its_editor_in_a_headless_browser() {
    let Some(browser) = chromium() else {
        eprintln!("skipped: no chromium or chromium-browser on PATH (.ci/run installs it)");
        return;
    };
    let app = TestApp::spawn().await;
    let t = app.create_tenant("browser", "PT Peramban").await;
    let profile = tempfile::tempdir().expect("profile dir");
    let output = tokio::time::timeout(
        Duration::from_secs(120),
        tokio::process::Command::new(&browser)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
                "--virtual-time-budget=10000",
                "--dump-dom",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg(format!("{}/{}/graphql", app.base, t.slug))
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("chromium finishes within 2 minutes")
    .expect("chromium runs");
    let dom = String::from_utf8_lossy(&output.stdout);
    assert!(
        dom.contains("graphiql-container") && dom.contains("CodeMirror"),
        "GraphiQL's editor is not in the DOM (status {:?}):\n{}\nstderr:\n{}",
        output.status,
        &dom[..dom.len().min(3000)],
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        !dom.contains("Loading GraphiQL"),
        "the page never left its loading text"
    );
}

/// A GET of `path` with URL parameters, an optional token and `Accept`.
async fn get(
    app: &TestApp,
    path: &str,
    token: Option<&str>,
    params: &[(&str, &str)],
    accept: Option<&str>,
) -> (StatusCode, HeaderMap, Value) {
    let mut request = app.client.get(format!("{}{path}", app.base)).query(params);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    let response = request.send().await.expect("GET");
    let (status, headers) = (response.status(), response.headers().clone());
    (status, headers, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn queries_run_over_get_and_mutations_do_not() {
    let app = TestApp::spawn().await;
    let t = app.create_tenant("get", "PT Ambil").await;
    let path = format!("/{}/graphql", t.slug);
    let counted = format!(
        r#"nusa_tenant_requests_total{{tenant="{}",operation="query",result="ok"}}"#,
        t.slug
    );

    let (status, h, body) = get(
        &app,
        &path,
        Some(&t.token),
        &[("query", ACCOUNTS), ("variables", r#"{"n":2}"#)],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        body["data"]["accounts"]["totalCount"].as_i64().is_some_and(|n| n > 2),
        "{body}"
    );
    assert_eq!(
        body["data"]["accounts"]["nodes"].as_array().map(Vec::len),
        Some(2),
        "{body}"
    );
    assert_eq!(header(&h, "cache-control"), "no-store");
    assert_eq!(header(&h, "content-type"), "application/json");
    assert_eq!(app.metric(&counted).await, 1.0, "counted like a POST");

    // The spec's media type, when asked for; then a request error is a 4xx.
    let graphql_json = Some("application/graphql-response+json, application/json;q=0.9");
    let (status, h, body) = get(
        &app,
        &path,
        Some(&t.token),
        &[("query", "{ company { name } }")],
        graphql_json,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(header(&h, "content-type"), "application/graphql-response+json");
    assert_eq!(body["data"]["company"]["name"], "PT Ambil");
    let (status, _, body) = get(
        &app,
        &path,
        Some(&t.token),
        &[("query", "{ company { nope } }")],
        graphql_json,
    )
    .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::BAD_REQUEST, "BAD_REQUEST"),
        "{body}"
    );
    let (status, _, body) = get(&app, &path, Some(&t.token), &[("query", "{ company { nope } }")], None).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::OK, "BAD_REQUEST"),
        "application/json: {body}"
    );

    // A document with a query and a mutation: the selected operation decides.
    let both = r#"query Read { company { name } } mutation Write { updateCompany(input: { legalName: "PT Diubah" }) { legalName } }"#;
    let (status, _, body) = get(
        &app,
        &path,
        Some(&t.token),
        &[("query", both), ("operationName", "Read")],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["company"]["name"], "PT Ambil");
    let (status, h, body) = get(
        &app,
        &path,
        Some(&t.token),
        &[("query", both), ("operationName", "Write")],
        None,
    )
    .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::METHOD_NOT_ALLOWED, "BAD_REQUEST"),
        "{body}"
    );
    assert_eq!(header(&h, "allow"), "POST");

    let create = r#"mutation { createAccount(input: { code: "1-1999", name: "Kas Lewat GET", type: ASSET }) { id } }"#;
    let (status, h, body) = get(&app, &path, Some(&t.token), &[("query", create)], None).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::METHOD_NOT_ALLOWED, "BAD_REQUEST"),
        "{body}"
    );
    assert_eq!(header(&h, "allow"), "POST");
    assert_eq!(header(&h, "cache-control"), "no-store");
    assert!(body["data"].is_null(), "{body}");
    let (status, body) = app
        .tenant(
            &t.slug,
            Some(&t.token),
            r#"{ account(code: "1-1999") { id } company { legalName } }"#,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["data"]["account"].is_null(), "the mutation over GET ran: {body}");
    assert!(
        body["data"]["company"]["legalName"].is_null(),
        "the mutation over GET ran: {body}"
    );

    // A browser still gets GraphiQL; a GET without a token is refused like a POST.
    let page = app
        .client
        .get(format!("{}{path}", app.base))
        .query(&[("query", "{ company { name } }")])
        .header("accept", BROWSER_ACCEPT)
        .send()
        .await
        .expect("page");
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.expect("html").contains("graphiql"));
    let (status, _, body) = get(&app, &path, None, &[("query", "{ company { name } }")], None).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::UNAUTHORIZED, "UNAUTHENTICATED"),
        "{body}"
    );
    let (status, _, body) = get(&app, &path, Some(&t.token), &[], None).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::BAD_REQUEST, "BAD_REQUEST"),
        "{body}"
    );
    let (status, _, body) = get(
        &app,
        &path,
        Some(&t.token),
        &[("query", ACCOUNTS), ("variables", "{n:2")],
        None,
    )
    .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::BAD_REQUEST, "BAD_REQUEST"),
        "{body}"
    );

    // A READ token reads over GET.
    let (_, created) = app
        .admin(
            "mutation($slug: String!) { createApiToken(slug: $slug, name: \"dashboard\", scopes: [READ]) { token } }",
            json!({ "slug": t.slug }),
        )
        .await;
    let read = created["data"]["createApiToken"]["token"].as_str().expect("READ token");
    let (status, _, body) = get(
        &app,
        &path,
        Some(read),
        &[("query", ACCOUNTS), ("variables", r#"{"n":1}"#)],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["data"]["accounts"]["nodes"].as_array().map(Vec::len),
        Some(1),
        "{body}"
    );

    // The admin endpoint: queries over GET with the admin token, mutations refused.
    let tenants = "{ tenants { nodes { slug } } }";
    let (status, h, body) = get(
        &app,
        "/admin/graphql",
        Some(app.admin_token()),
        &[("query", tenants)],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["tenants"]["nodes"][0]["slug"], t.slug.as_str());
    assert_eq!(header(&h, "cache-control"), "no-store");
    let suspend = format!(r#"mutation {{ suspendTenant(slug: "{}") {{ status }} }}"#, t.slug);
    let (status, h, body) = get(
        &app,
        "/admin/graphql",
        Some(app.admin_token()),
        &[("query", &suspend)],
        None,
    )
    .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::METHOD_NOT_ALLOWED, "BAD_REQUEST"),
        "{body}"
    );
    assert_eq!(header(&h, "allow"), "POST");
    let (status, _, body) = get(&app, "/admin/graphql", None, &[("query", tenants)], None).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::UNAUTHORIZED, "UNAUTHENTICATED"),
        "{body}"
    );
    let (status, _, body) = get(&app, &path, Some(&t.token), &[("query", "{ company { name } }")], None).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "still active: the suspension over GET did not run: {body}"
    );
}

/// A server process logging JSON at debug level to a file in `dir`.
async fn logging_server(app: &TestApp, dir: &Path) -> (ServerProcess, PathBuf) {
    let log_path = dir.join("server.log");
    let mut env = app.process_env();
    env.push(("LOG_FORMAT".into(), "json".into()));
    env.push(("RUST_LOG".into(), "debug".into()));
    (ServerProcess::start_logging(&env, &log_path).await, log_path)
}

/// The JSON log lines of finished requests.
fn finished_requests(logs: &str) -> Vec<String> {
    logs.lines()
        .filter(|line| line.contains("finished processing request"))
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_variables_of_a_get_never_reach_the_logs() {
    let app = TestApp::spawn().await;
    let t = app.create_tenant("get-logs", "PT Catatan Rahasia").await;
    let dir = tempfile::tempdir().expect("dir");
    let (server, log_path) = logging_server(&app, dir.path()).await;
    let marker = "rahasia-4b1d9e";
    let response = reqwest::Client::new()
        .get(format!("{}/{}/graphql", server.base, t.slug))
        .bearer_auth(&t.token)
        .query(&[
            (
                "query",
                "query Search($s: String) { accounts(filter: { search: $s }) { totalCount } }",
            ),
            ("variables", &format!(r#"{{"s":"{marker}"}}"#)),
            ("operationName", "Search"),
        ])
        .send()
        .await
        .expect("GET");
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["data"]["accounts"]["totalCount"], 0, "{body}");
    server.stop().await;

    let logs = std::fs::read_to_string(&log_path).expect("log file");
    assert!(!logs.contains(marker), "a variable's value is in the logs");
    assert!(!logs.contains("variables="), "a query string is in the logs");
    let finished = finished_requests(&logs);
    assert!(
        finished.iter().any(|line| line.contains(r#""method":"GET""#)
            && line.contains(&format!(r#""path":"/{}/graphql""#, t.slug))
            && line.contains(r#""operation":"Search""#)),
        "no log line of the GET: {finished:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn urql_in_its_default_configuration_reads_over_get() {
    let clients = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients");
    let node_ok = std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !node_ok || !clients.join("node_modules/@urql/core").is_dir() {
        eprintln!("skipped: needs node and `npm ci --prefix tests/clients` (.ci/run does both when npm exists)");
        return;
    }
    let app = TestApp::spawn().await;
    let t = app.create_tenant("urql", "PT Klien Nyata").await;
    let dir = tempfile::tempdir().expect("dir");
    let (server, log_path) = logging_server(&app, dir.path()).await;
    let endpoint = format!("{}/{}/graphql", server.base, t.slug);
    let output = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::process::Command::new("node")
            .arg(clients.join("urql.mjs"))
            .arg(&endpoint)
            .arg(&t.token)
            .arg("Kas")
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("node finishes within a minute")
    .expect("node runs");
    server.stop().await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "urql.mjs failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let result: Value = serde_json::from_str(stdout.trim()).expect("urql.mjs prints JSON");
    assert!(result["error"].is_null(), "{result}");
    assert!(
        result["data"]["accounts"]["totalCount"]
            .as_i64()
            .is_some_and(|n| n >= 2),
        "Kas, Kas Kecil, ...: {result}"
    );
    assert_eq!(
        result["data"]["accounts"]["nodes"].as_array().map(Vec::len),
        Some(2),
        "{result}"
    );
    assert_eq!(
        result["preferGetMethod"], "within-url-limit",
        "urql's default, still set after sending: the URL was short enough for GET"
    );

    let logs = std::fs::read_to_string(&log_path).expect("log file");
    let finished = finished_requests(&logs);
    assert!(
        finished.iter().any(|line| line.contains(r#""method":"GET""#)
            && line.contains(&format!(r#""path":"/{}/graphql""#, t.slug))
            && line.contains(r#""operation":"Accounts""#)
            && line.contains(r#""status":200"#)),
        "the server saw no GET from urql: {finished:?}"
    );
    assert!(
        !finished.iter().any(|line| line.contains(r#""method":"POST""#)),
        "urql fell back to POST: {finished:?}"
    );
}
