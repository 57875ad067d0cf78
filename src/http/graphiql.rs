//! GraphiQL, served whole by the service: our own small page and the pinned GraphiQL and
//! React builds it loads, embedded in the binary (`assets/graphiql/`, see its README).
//! No CDN: the page works on a machine without internet access, and what a browser
//! runs is what was reviewed and committed.

use std::sync::OnceLock;

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use sha2::{Digest, Sha256};

/// Where the assets are served; each file's name carries its package version.
const PREFIX: &str = "/assets/graphiql/";

/// One embedded file.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $content_type:literal) => {
        Asset {
            name: $name,
            content_type: $content_type,
            bytes: include_bytes!(concat!("../../assets/graphiql/", $name)),
        }
    };
}

/// The one list of assets: the route serves these and the page loads these.
const REACT: Asset = asset!("react-18.3.1.production.min.js", "text/javascript; charset=utf-8");
const REACT_DOM: Asset = asset!("react-dom-18.3.1.production.min.js", "text/javascript; charset=utf-8");
const GRAPHIQL_JS: Asset = asset!("graphiql-3.8.3.min.js", "text/javascript; charset=utf-8");
const GRAPHIQL_CSS: Asset = asset!("graphiql-3.8.3.min.css", "text/css; charset=utf-8");
const ASSETS: [&Asset; 4] = [&REACT, &REACT_DOM, &GRAPHIQL_JS, &GRAPHIQL_CSS];

/// `GET /assets/graphiql/{file}`: cached for a year (a name's content never changes),
/// with a strong ETag (the content's SHA-256) for revalidation.
pub async fn asset(Path(name): Path<String>, headers: HeaderMap) -> Response {
    let Some((index, asset)) = ASSETS.iter().enumerate().find(|(_, asset)| asset.name == name) else {
        return super::health::not_found().await.into_response();
    };
    let etag = &etags()[index];
    let cached = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|tag| tag.trim() == etag || tag.trim() == "*");
    let caching = [
        (
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=31536000, immutable"),
        ),
        (
            header::ETAG,
            HeaderValue::from_str(etag).unwrap_or(HeaderValue::from_static("\"-\"")),
        ),
    ];
    if cached {
        return (StatusCode::NOT_MODIFIED, caching).into_response();
    }
    (
        caching,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type)),
            (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        ],
        asset.bytes,
    )
        .into_response()
}

/// The ETags of `ASSETS`, computed once (a few milliseconds for 4 MB).
fn etags() -> &'static [String] {
    static ETAGS: OnceLock<Vec<String>> = OnceLock::new();
    ETAGS.get_or_init(|| {
        ASSETS
            .iter()
            .map(|asset| format!("\"{}\"", &hex::encode(Sha256::digest(asset.bytes))[..32]))
            .collect()
    })
}

/// A GraphiQL page for `endpoint`. The page needs no token; the header editor is open
/// for the user's `Authorization: Bearer ...` (kept in memory only, not in storage).
pub fn page(title: &str, endpoint: &str) -> Response {
    (
        [
            (header::VARY, HeaderValue::from_static("accept")),
            // Users paste tokens here: no other site may frame the page.
            (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("frame-ancestors 'none'"),
            ),
            (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        ],
        Html(page_html(title, endpoint)),
    )
        .into_response()
}

fn page_html(title: &str, endpoint: &str) -> String {
    format!(
        r##"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{title}</title>
<link rel="stylesheet" href="{css}">
<style>body {{ margin: 0; height: 100vh; overflow: hidden; }} #graphiql {{ height: 100vh; }}</style>
</head>
<body>
<div id="graphiql">Loading GraphiQL…</div>
<script src="{react}"></script>
<script src="{react_dom}"></script>
<script src="{graphiql}"></script>
<script>
  const endpoint = {endpoint_js};
  const fetcher = GraphiQL.createFetcher({{ url: new URL(endpoint, window.location.href).toString() }});
  ReactDOM.createRoot(document.getElementById("graphiql")).render(
    React.createElement(GraphiQL, {{
      fetcher,
      defaultEditorToolsVisibility: "headers",
      defaultHeaders: '{{\n  "Authorization": "Bearer "\n}}',
      defaultQuery: "# " + {title_js} + "\n#\n# 1. Paste a token after \"Bearer \" in the\n#    Headers tab below.\n# 2. Reload the schema (⟳, bottom left).\n# 3. Write a query; Ctrl-Enter runs it.\n",
    }}),
  );
</script>
</body>
</html>
"##,
        title = escape_html(title),
        css = url(&GRAPHIQL_CSS),
        react = url(&REACT),
        react_dom = url(&REACT_DOM),
        graphiql = url(&GRAPHIQL_JS),
        endpoint_js = script_string(endpoint),
        title_js = script_string(title),
    )
}

fn url(asset: &Asset) -> String {
    format!("{PREFIX}{}", asset.name)
}

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A JavaScript string literal that is also safe inside `<script>` (no `</script>`).
fn script_string(text: &str) -> String {
    serde_json::to_string(text)
        .unwrap_or_else(|_| "\"\"".into())
        .replace('<', "\\u003c")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assets_are_the_committed_files_and_the_page_loads_only_them() {
        for asset in ASSETS {
            assert!(asset.bytes.len() > 1000, "{} is embedded", asset.name);
        }
        assert_eq!(etags().len(), ASSETS.len());
        assert!(etags().iter().all(|tag| tag.len() == 34 && tag.starts_with('"')));
        let html = page_html("Nusa Journal — <admin>", "/admin/graphql");
        assert!(html.contains("<title>Nusa Journal — &lt;admin&gt;</title>"), "{html}");
        assert!(html.contains(r#"const endpoint = "/admin/graphql";"#), "{html}");
        let parts: Vec<&str> = html.split('"').collect();
        let links: Vec<&str> = parts
            .windows(2)
            .filter(|pair| pair[0].ends_with("src=") || pair[0].ends_with("href="))
            .map(|pair| pair[1])
            .collect();
        assert_eq!(links.len(), ASSETS.len(), "{links:?}");
        for asset in ASSETS {
            assert!(links.contains(&url(asset).as_str()), "{} is loaded", asset.name);
        }
        assert_eq!(script_string("</script>"), r#""\u003c/script>""#);
        assert_eq!(escape_html("<a & \"b\">"), "&lt;a &amp; &quot;b&quot;&gt;");
    }
}
