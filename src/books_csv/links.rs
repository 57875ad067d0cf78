//! Signed download links for exports (`createExportLink`): a browser downloads a file by
//! following a link, without an `Authorization` header.
//!
//! A link is `/{slug}/exports/{report}.csv?{parameters}&expires={unix seconds}&tokenId={id}&sig={signature}`.
//! The signature is HMAC-SHA256 over the slug, the report's path, the parameters in
//! canonical order ([`canonical_query`]), the expiry and the id of the token that made the
//! link, with a key derived from the master key for this purpose only (every instance
//! derives the same). It is checked in constant time; after it, the HTTP layer checks
//! that the token is still the tenant's and not revoked, and that the tenant is not
//! suspended, exactly as for a bearer token. The link carries the token's id, never the
//! token; the request span logs the path only, never the query with the signature.
//!
//! Only `exports/<report>.csv` with that report's own parameters (checked as an export
//! checks them) can be signed: a link can never be made for `graphql` or anything else.

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretBox};
use sha2::Sha256;
use std::sync::Arc;
use uuid::Uuid;

use super::export::{canonical_query, query_pairs, ExportRequest, Report};
use crate::error::{Error, Result};
use crate::tenancy::sealing::Sealer;

/// How long a link works.
pub const LINK_LIFETIME: Duration = Duration::from_secs(5 * 60);

/// The purpose label of the derived key.
const PURPOSE: &str = "export-links/v1";

/// Longest `path` a link is made for.
const MAX_PATH_CHARS: usize = 2_000;

/// The URL parameters a link adds; an export's own parameters never use these names.
const EXPIRES: &str = "expires";
const TOKEN_ID: &str = "tokenId";
const SIGNATURE: &str = "sig";

/// Makes and checks links. Cheap to clone.
#[derive(Clone)]
pub struct ExportLinks {
    key: Arc<SecretBox<[u8; 32]>>,
}

/// A link that verified: the token that made it, and the export's own parameters.
#[derive(Debug)]
pub struct VerifiedLink {
    pub token_id: Uuid,
    pub parameters: Vec<(String, String)>,
}

impl ExportLinks {
    pub fn new(sealer: &Sealer) -> Self {
        ExportLinks {
            key: Arc::new(sealer.derive_key(PURPOSE)),
        }
    }

    /// A relative URL for `path` (`exports/<report>.csv?<parameters>`, a leading `/`
    /// allowed) that token `token_id` of tenant `slug` may follow until [`LINK_LIFETIME`]
    /// from now. `BAD_USER_INPUT` on `path` for anything but an export with its own,
    /// well-formed parameters.
    pub fn create(&self, slug: &str, path: &str, token_id: Uuid) -> Result<String> {
        let bad = |message: String| Error::bad_input("path", message);
        if path.chars().count() > MAX_PATH_CHARS {
            return Err(bad(format!("at most {MAX_PATH_CHARS} characters")));
        }
        let path = path.trim().trim_start_matches('/');
        let (file_path, query) = match path.split_once('?') {
            Some((file_path, query)) => (file_path, Some(query)),
            None => (path, None),
        };
        let report = file_path
            .strip_prefix("exports/")
            .and_then(Report::from_file)
            .ok_or_else(|| {
                bad(
                    "only an export can be linked: exports/<report>.csv with accounts, journal, trial-balance, \
                     general-ledger, balance-sheet or income-statement"
                        .into(),
                )
            })?;
        let parameters = query_pairs(query).map_err(|e| bad(e.to_string()))?;
        if let Some((name, _)) = parameters.iter().find(|(name, _)| !report.takes(name)) {
            return Err(bad(format!(
                "{:?} is not a parameter of the {} export",
                name.chars().take(40).collect::<String>(),
                report.name()
            )));
        }
        ExportRequest::parse(report, &parameters).map_err(|e| match e {
            Error::BadUserInput { field, message } => bad(match field {
                Some(field) => format!("{field}: {message}"),
                None => message,
            }),
            other => other,
        })?;
        let expires = Utc::now() + LINK_LIFETIME;
        Ok(self.sign(slug, report, &parameters, token_id, expires))
    }

    /// The link for an export, valid until `expires` (a test signs one that has expired).
    pub fn sign(
        &self,
        slug: &str,
        report: Report,
        parameters: &[(String, String)],
        token_id: Uuid,
        expires: DateTime<Utc>,
    ) -> String {
        let canonical = canonical_query(parameters);
        let expires = expires.timestamp();
        let signature = B64.encode(
            self.mac(slug, report, &canonical, expires, token_id)
                .finalize()
                .into_bytes(),
        );
        let mut query = canonical;
        if !query.is_empty() {
            query.push('&');
        }
        query.push_str(&format!(
            "{EXPIRES}={expires}&{TOKEN_ID}={token_id}&{SIGNATURE}={signature}"
        ));
        format!("/{slug}/exports/{}.csv?{query}", report.name())
    }

    /// Whether `pairs` (a request's URL parameters) carry a link's signature.
    pub fn is_link(pairs: &[(String, String)]) -> bool {
        pairs.iter().any(|(name, _)| name == SIGNATURE)
    }

    /// Checks a link's signature (in constant time) and then its expiry; the export's
    /// own parameters and the token's id when both hold, `UNAUTHENTICATED` otherwise.
    pub fn verify(&self, slug: &str, report: Report, pairs: Vec<(String, String)>) -> Result<VerifiedLink> {
        let invalid = || Error::Unauthenticated("invalid export link");
        let (mut expires, mut token_id, mut signature) = (None, None, None);
        let mut parameters = Vec::with_capacity(pairs.len());
        for (name, value) in pairs {
            let slot = match name.as_str() {
                EXPIRES => &mut expires,
                TOKEN_ID => &mut token_id,
                SIGNATURE => &mut signature,
                _ => {
                    parameters.push((name, value));
                    continue;
                }
            };
            if slot.replace(value).is_some() {
                return Err(invalid());
            }
        }
        let expires: i64 = expires.and_then(|e| e.parse().ok()).ok_or_else(invalid)?;
        let token_id = token_id.and_then(|t| Uuid::parse_str(&t).ok()).ok_or_else(invalid)?;
        let signature = signature.and_then(|s| B64.decode(s).ok()).ok_or_else(invalid)?;
        self.mac(slug, report, &canonical_query(&parameters), expires, token_id)
            .verify_slice(&signature)
            .map_err(|_| invalid())?;
        if Utc::now().timestamp() > expires {
            return Err(Error::Unauthenticated("the export link has expired; make a new one"));
        }
        Ok(VerifiedLink { token_id, parameters })
    }

    /// The MAC of one link. The parts are separated by newlines, which none of them can
    /// hold (a slug, a report name, a form-encoded query, numbers, a UUID).
    fn mac(&self, slug: &str, report: Report, canonical: &str, expires: i64, token_id: Uuid) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.key.expose_secret())
            .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
        let text = format!(
            "v1\n{slug}\nexports/{}.csv\n{canonical}\n{expires}\n{token_id}",
            report.name()
        );
        mac.update(text.as_bytes());
        mac
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tenancy::sealing::MasterKey;

    fn links() -> ExportLinks {
        let key = MasterKey::from_base64(&MasterKey::generate_base64()).unwrap_or_else(|e| panic!("{e}"));
        ExportLinks::new(&Sealer::new(key, vec![]))
    }

    fn pairs_of(link: &str) -> Vec<(String, String)> {
        query_pairs(link.split_once('?').map(|(_, q)| q)).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_link_verifies_and_gives_back_its_parameters() {
        let links = links();
        let token = Uuid::new_v4();
        let link = links
            .create("pt-maju", "exports/trial-balance.csv?asOf=2026-12-31&sep=%3B", token)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(link.starts_with("/pt-maju/exports/trial-balance.csv?asOf=2026-12-31&sep=%3B&expires="));
        let verified = links
            .verify("pt-maju", Report::TrialBalance, pairs_of(&link))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(verified.token_id, token);
        assert_eq!(
            verified.parameters,
            vec![
                ("asOf".to_owned(), "2026-12-31".to_owned()),
                ("sep".to_owned(), ";".to_owned())
            ]
        );
        // The parameters in another order are the same link.
        let mut reordered = pairs_of(&link);
        reordered.reverse();
        assert!(links.verify("pt-maju", Report::TrialBalance, reordered).is_ok());
    }

    #[test]
    fn tampered_foreign_and_expired_links_are_refused() {
        let links = links();
        let token = Uuid::new_v4();
        let link = links
            .create("pt-maju", "/exports/trial-balance.csv?asOf=2026-12-31", token)
            .unwrap_or_else(|e| panic!("{e}"));
        let refused = |slug: &str, report: Report, pairs: Vec<(String, String)>| {
            matches!(links.verify(slug, report, pairs), Err(Error::Unauthenticated(_)))
        };
        assert!(
            refused("pt-lain", Report::TrialBalance, pairs_of(&link)),
            "another tenant"
        );
        assert!(
            refused("pt-maju", Report::BalanceSheet, pairs_of(&link)),
            "another report"
        );
        let changed = pairs_of(&link.replace("2026-12-31", "2025-12-31"));
        assert!(refused("pt-maju", Report::TrialBalance, changed), "another date");
        let mut later = pairs_of(&link);
        for (name, value) in &mut later {
            if name == "expires" {
                *value = (value.parse::<i64>().unwrap_or_default() + 3600).to_string();
            }
        }
        assert!(refused("pt-maju", Report::TrialBalance, later), "a later expiry");
        let mut added = pairs_of(&link);
        added.push(("from".into(), "2026-01-01".into()));
        assert!(refused("pt-maju", Report::TrialBalance, added), "an added parameter");
        assert!(
            ExportLinks::new(&Sealer::new(
                MasterKey::from_base64(&MasterKey::generate_base64()).unwrap_or_else(|e| panic!("{e}")),
                vec![]
            ))
            .verify("pt-maju", Report::TrialBalance, pairs_of(&link))
            .is_err(),
            "another master key"
        );
        let expired = links.sign(
            "pt-maju",
            Report::TrialBalance,
            &[],
            token,
            Utc::now() - chrono::Duration::seconds(1),
        );
        let error = links.verify("pt-maju", Report::TrialBalance, pairs_of(&expired));
        assert!(
            matches!(error, Err(Error::Unauthenticated(message)) if message.contains("expired")),
            "{expired}"
        );
    }

    #[test]
    fn only_exports_with_their_own_parameters_are_signed() {
        let links = links();
        let token = Uuid::new_v4();
        for path in [
            "graphql?query={company{name}}",
            "/pt-maju/graphql",
            "exports/../graphql",
            "exports/secrets.csv",
            "exports/accounts.csv?asOf=2026-01-01",
            "exports/trial-balance.csv?asOf=yesterday",
            "exports/trial-balance.csv?sig=abc",
            "exports/trial-balance.csv?expires=1",
            "admin/graphql",
        ] {
            let refused = links.create("pt-maju", path, token);
            assert!(
                matches!(&refused, Err(Error::BadUserInput { field: Some(f), .. }) if f == "path"),
                "{path}: {refused:?}"
            );
        }
        assert!(links
            .create("pt-maju", &format!("exports/accounts.csv?{}", "a".repeat(2_000)), token)
            .is_err());
    }
}
