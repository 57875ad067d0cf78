//! What a caller of a GraphQL endpoint asks for in its `Accept` header: a browser gets
//! GraphiQL, a client a GraphQL response in the media type it prefers (GraphQL over
//! HTTP, "Accept" and "Legacy watershed").

use axum::http::{header, HeaderMap, HeaderValue};

/// The media type the GraphQL-over-HTTP specification defines for responses.
pub const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";

/// What a GET of a GraphQL endpoint wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wanted {
    /// The GraphiQL page: the caller prefers `text/html` to any JSON (a browser).
    Page,
    /// A GraphQL response.
    Response(ResponseMedia),
}

/// The media type a GraphQL response is sent in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseMedia {
    /// `application/json`: what callers without an opinion get. A request error (the
    /// document does not parse or validate) still answers 200, as this API always did.
    Json,
    /// `application/graphql-response+json`, for callers that list it: a request error
    /// answers 4xx, so a client knows nothing ran without reading the body.
    GraphqlResponse,
}

impl ResponseMedia {
    pub fn content_type(self) -> HeaderValue {
        match self {
            ResponseMedia::Json => HeaderValue::from_static("application/json"),
            ResponseMedia::GraphqlResponse => HeaderValue::from_static(GRAPHQL_RESPONSE_JSON),
        }
    }
}

/// What a GET asks for. A browser's `text/html,...,*/*;q=0.8` gets the page; `*/*`, no
/// `Accept` at all, or JSON ranked at least as high as HTML get a GraphQL response.
pub fn wanted(headers: &HeaderMap) -> Wanted {
    let ranges = ranges(headers);
    let html = quality_listed(&ranges, "text/html");
    let json = quality(&ranges, "application/json").max(quality(&ranges, GRAPHQL_RESPONSE_JSON));
    if html > 0.0 && html > json {
        Wanted::Page
    } else {
        Wanted::Response(media_of(&ranges))
    }
}

/// The media type of a GraphQL response: `application/graphql-response+json` when the
/// caller lists it by name at least as high as `application/json`; `application/json`
/// otherwise, also without `Accept` (the specification's rule for legacy clients).
pub fn response_media(headers: &HeaderMap) -> ResponseMedia {
    media_of(&ranges(headers))
}

fn media_of(ranges: &[Range]) -> ResponseMedia {
    let graphql = quality_listed(ranges, GRAPHQL_RESPONSE_JSON);
    if graphql > 0.0 && graphql >= quality(ranges, "application/json") {
        ResponseMedia::GraphqlResponse
    } else {
        ResponseMedia::Json
    }
}

/// One media range of `Accept` and its weight.
struct Range {
    mime: mime::Mime,
    q: f32,
}

/// Every media range of every `Accept` header; ranges that do not parse are ignored.
fn ranges(headers: &HeaderMap) -> Vec<Range> {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|range| range.trim().parse::<mime::Mime>().ok())
        .map(|mime| {
            let q = mime
                .get_param("q")
                .and_then(|q| q.as_str().parse::<f32>().ok())
                .filter(|q| q.is_finite())
                .map_or(1.0, |q| q.clamp(0.0, 1.0));
            Range { mime, q }
        })
        .collect()
}

/// The weight of a media type (`type/subtype`, lower case): that of the most specific
/// range matching it (RFC 9110, 12.5.1), 0 when none does.
fn quality(ranges: &[Range], essence: &str) -> f32 {
    let type_ = essence.split('/').next().unwrap_or_default();
    ranges
        .iter()
        .filter_map(|range| {
            let specificity = match (range.mime.type_().as_str(), range.mime.subtype().as_str()) {
                _ if range.mime.essence_str() == essence => 2,
                (t, "*") if t == type_ => 1,
                ("*", "*") => 0,
                _ => return None,
            };
            Some((specificity, range.q))
        })
        .max_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)))
        .map_or(0.0, |(_, q)| q)
}

/// The weight of a media type when the caller names it, 0 when only a wildcard covers it.
fn quality_listed(ranges: &[Range], essence: &str) -> f32 {
    ranges
        .iter()
        .filter(|range| range.mime.essence_str() == essence)
        .map(|range| range.q)
        .fold(0.0, f32::max)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(header::ACCEPT, HeaderValue::from_str(value).expect("header value"));
        }
        headers
    }

    const FIREFOX: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
    const CHROME: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7";
    /// What `@urql/core` 6 sends.
    const URQL: &str =
        "application/graphql-response+json, application/graphql+json, application/json, text/event-stream, multipart/mixed";

    #[test]
    fn browsers_get_the_page() {
        assert_eq!(wanted(&accept(&[FIREFOX])), Wanted::Page);
        assert_eq!(wanted(&accept(&[CHROME])), Wanted::Page);
        assert_eq!(wanted(&accept(&["text/html"])), Wanted::Page);
        assert_eq!(
            wanted(&accept(&["application/json;q=0.5", "text/html"])),
            Wanted::Page,
            "several Accept headers count as one list"
        );
    }

    #[test]
    fn clients_get_a_graphql_response() {
        let json = Wanted::Response(ResponseMedia::Json);
        let graphql = Wanted::Response(ResponseMedia::GraphqlResponse);
        assert_eq!(wanted(&HeaderMap::new()), json, "no Accept: application/json");
        assert_eq!(wanted(&accept(&["*/*"])), json, "curl");
        assert_eq!(wanted(&accept(&["application/json"])), json);
        assert_eq!(
            wanted(&accept(&["application/json, text/html"])),
            json,
            "a tie goes to JSON"
        );
        assert_eq!(wanted(&accept(&["text/html;q=0.5, application/*"])), json);
        assert_eq!(wanted(&accept(&[URQL])), graphql);
        assert_eq!(
            wanted(&accept(&["application/graphql-response+json, application/json;q=0.9"])),
            graphql,
            "Apollo Client"
        );
        assert_eq!(wanted(&accept(&["text/html;q=0"])), json, "q=0 means not acceptable");
        assert_eq!(
            wanted(&accept(&["nonsense, text/html;q=abc"])),
            Wanted::Page,
            "a bad q counts as 1"
        );
    }

    #[test]
    fn graphql_response_json_only_when_named_and_not_ranked_lower() {
        let media = |value: &str| response_media(&accept(&[value]));
        assert_eq!(response_media(&HeaderMap::new()), ResponseMedia::Json);
        assert_eq!(media("*/*"), ResponseMedia::Json);
        assert_eq!(media("application/*"), ResponseMedia::Json);
        assert_eq!(
            media("application/graphql-response+json"),
            ResponseMedia::GraphqlResponse
        );
        assert_eq!(
            media("application/json, application/graphql-response+json;q=0.8"),
            ResponseMedia::Json
        );
        assert_eq!(
            media("application/json;q=0.9, application/graphql-response+json"),
            ResponseMedia::GraphqlResponse
        );
        assert_eq!(
            media("Application/GraphQL-Response+JSON"),
            ResponseMedia::GraphqlResponse
        );
    }
}
