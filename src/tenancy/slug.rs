//! The tenant slug: the only way a path segment becomes a tenant name, a database
//! name or a role name. Parse, don't validate: a `TenantSlug` is always valid.

use std::fmt;

/// Path segments and PostgreSQL names that can never be a tenant.
pub const RESERVED_SLUGS: &[&str] = &[
    "admin",
    "healthz",
    "readyz",
    "metrics",
    "graphql",
    "graphiql",
    "static",
    "assets",
    "api",
    "www",
    "postgres",
    "template0",
    "template1",
];

const MIN_LEN: usize = 3;
const MAX_LEN: usize = 50;

/// A valid tenant slug: `^[a-z0-9](?:[a-z0-9-]{1,48}[a-z0-9])$`, no `--`, not reserved.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantSlug(String);

impl TenantSlug {
    /// Parses a slug; the error says why it was refused.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let len = raw.len();
        if !(MIN_LEN..=MAX_LEN).contains(&len) {
            return Err(format!("a tenant slug has {MIN_LEN} to {MAX_LEN} characters"));
        }
        if !raw
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err("a tenant slug has only lower-case letters, digits and '-'".into());
        }
        if raw.starts_with('-') || raw.ends_with('-') {
            return Err("a tenant slug starts and ends with a letter or digit".into());
        }
        if raw.contains("--") {
            return Err("a tenant slug has no '--'".into());
        }
        if RESERVED_SLUGS.contains(&raw) {
            return Err(format!("'{raw}' is reserved"));
        }
        Ok(TenantSlug(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The slug with `-` as `_`: one-to-one, since slugs never contain `_`.
    fn underscored(&self) -> String {
        self.0.replace('-', "_")
    }

    /// Database name at creation: `nusa_journal_` + slug (at most 63 bytes).
    pub fn database_name(&self) -> String {
        format!("nusa_journal_{}", self.underscored())
    }

    /// Database role: the configured prefix + slug.
    pub fn role_name(&self, prefix: &str) -> String {
        format!("{prefix}{}", self.underscored())
    }
}

impl fmt::Display for TenantSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for TenantSlug {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_good_slugs() {
        for good in ["pt-maju-jaya", "abc", "a1b", "cv-sinar-2", "123", &"a".repeat(50)] {
            assert!(TenantSlug::parse(good).is_ok(), "{good} should parse");
        }
    }

    #[test]
    fn refuses_bad_slugs() {
        let fifty_one = "a".repeat(51);
        let bad = [
            "",
            "ab",
            "a",
            &fifty_one,
            "PT-Maju",
            "pt_maju",
            "pt--maju",
            "-ptmaju",
            "ptmaju-",
            "..",
            "...",
            "%2e%2e",
            "pt maju",
            "pt.maju",
            "pt/maju",
            "ptmaju\n",
            "pt-mаju", // Cyrillic 'а'
            "ｐｔ-maju",
        ];
        for slug in bad.iter().chain(RESERVED_SLUGS) {
            assert!(TenantSlug::parse(slug).is_err(), "{slug:?} should be refused");
        }
    }

    #[test]
    fn names_fit_postgres_identifiers() {
        let longest = format!("{}bc", "a-".repeat(24));
        let slug = TenantSlug::parse(&longest).unwrap_or_else(|e| panic!("{e}"));
        assert!(slug.database_name().len() <= 63);
        assert!(slug.role_name("nusa_tenant_").len() <= 63);
        assert_eq!(
            TenantSlug::parse("pt-maju-jaya").map(|s| s.database_name()),
            Ok("nusa_journal_pt_maju_jaya".into())
        );
        assert_eq!(
            TenantSlug::parse("pt-maju-jaya").map(|s| s.role_name("nusa_tenant_")),
            Ok("nusa_tenant_pt_maju_jaya".into())
        );
    }
}
