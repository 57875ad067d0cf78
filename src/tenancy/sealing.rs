//! Sealing of tenant database credentials at rest in the registry.
//!
//! XChaCha20-Poly1305 with a random 24-byte nonce and the tenant id as associated
//! data, so a sealed value moved onto another tenant's row does not open. The stored
//! form is `v1.<key id>.<base64(nonce || ciphertext)>`; the key id (derived from the
//! key) picks the key on open, so old keys can stay configured while values are
//! re-sealed under a new one.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use std::sync::Arc;

use secrecy::{ExposeSecret, SecretBox, SecretString};
use sha2::{Digest, Sha256};
use uuid::Uuid;

const FORMAT_VERSION: &str = "v1";
const NONCE_LEN: usize = 24;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    #[error("a master key is 32 bytes, base64-encoded")]
    BadKey,
    #[error("sealed value is malformed")]
    Malformed,
    #[error("sealed with unknown key id {0}")]
    UnknownKey(String),
    #[error("sealed value does not open with this key and tenant")]
    Forged,
    #[error("the secret could not be encrypted")]
    Encrypt,
}

/// One 32-byte master key with its id.
#[derive(Clone)]
pub struct MasterKey {
    id: String,
    cipher: XChaCha20Poly1305,
    /// The key itself, for [`Sealer::derive_key`] (shared: a clone copies no secret).
    secret: Arc<SecretBox<[u8; 32]>>,
}

impl MasterKey {
    /// Decodes a base64 32-byte key.
    pub fn from_base64(encoded: &str) -> Result<Self, SealError> {
        let bytes = B64.decode(encoded.trim()).map_err(|_| SealError::BadKey)?;
        if bytes.len() != 32 {
            return Err(SealError::BadKey);
        }
        // The id is a short hash of the key: it names the key without revealing it.
        let id = hex::encode(&Sha256::digest([b"nusa-key-id:".as_slice(), &bytes].concat())[..4]);
        let cipher = XChaCha20Poly1305::new_from_slice(&bytes).map_err(|_| SealError::BadKey)?;
        let mut secret = [0u8; 32];
        secret.copy_from_slice(&bytes);
        Ok(MasterKey {
            id,
            cipher,
            secret: Arc::new(SecretBox::new(Box::new(secret))),
        })
    }

    /// A fresh random key, base64-encoded (for the embedded default and tests).
    pub fn generate_base64() -> String {
        B64.encode(XChaCha20Poly1305::generate_key(&mut OsRng))
    }

    pub fn id(&self) -> &str {
        &self.id
    }
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MasterKey({})", self.id)
    }
}

/// Seals with the current key; opens with the current or any old key.
#[derive(Clone, Debug)]
pub struct Sealer {
    current: MasterKey,
    old: Vec<MasterKey>,
}

impl Sealer {
    pub fn new(current: MasterKey, old: Vec<MasterKey>) -> Self {
        Sealer { current, old }
    }

    /// Encrypts `secret` for `tenant_id` with the current key. A failure is an error,
    /// never an empty "sealed" value that would only fail later, at unsealing.
    pub fn seal(&self, tenant_id: Uuid, secret: &SecretString) -> Result<String, SealError> {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let payload = Payload {
            msg: secret.expose_secret().as_bytes(),
            aad: tenant_id.as_bytes(),
        };
        let ciphertext = self
            .current
            .cipher
            .encrypt(&nonce, payload)
            .map_err(|_| SealError::Encrypt)?;
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&ciphertext);
        Ok(format!("{FORMAT_VERSION}.{}.{}", self.current.id, B64.encode(blob)))
    }

    pub fn open(&self, tenant_id: Uuid, sealed: &str) -> Result<SecretString, SealError> {
        let mut parts = sealed.splitn(3, '.');
        let (Some(FORMAT_VERSION), Some(key_id), Some(body)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(SealError::Malformed);
        };
        let key = std::iter::once(&self.current)
            .chain(&self.old)
            .find(|k| k.id == key_id)
            .ok_or_else(|| SealError::UnknownKey(key_id.to_owned()))?;
        let blob = B64.decode(body).map_err(|_| SealError::Malformed)?;
        if blob.len() <= NONCE_LEN {
            return Err(SealError::Malformed);
        }
        let (nonce, ciphertext) = blob.split_at(NONCE_LEN);
        let payload = Payload {
            msg: ciphertext,
            aad: tenant_id.as_bytes(),
        };
        let plain = key
            .cipher
            .decrypt(XNonce::from_slice(nonce), payload)
            .map_err(|_| SealError::Forged)?;
        String::from_utf8(plain)
            .map(SecretString::from)
            .map_err(|_| SealError::Malformed)
    }

    /// A key for one `purpose` (such as signing export links), derived from the current
    /// master key: HMAC-SHA256(master key, "nusa-journal/" + purpose). Every instance
    /// with the same master key derives the same key; a key of one purpose says nothing
    /// about the master key or another purpose's key. After a rotation the derived keys
    /// change too (what they signed, such as 5-minute links, stops verifying).
    pub fn derive_key(&self, purpose: &str) -> SecretBox<[u8; 32]> {
        use hmac::{Hmac, Mac};
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.current.secret.expose_secret())
            .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
        mac.update(b"nusa-journal/");
        mac.update(purpose.as_bytes());
        let derived: [u8; 32] = mac.finalize().into_bytes().into();
        SecretBox::new(Box::new(derived))
    }

    /// True when the value was sealed with an old key and should be re-sealed.
    pub fn needs_reseal(&self, sealed: &str) -> bool {
        sealed.split('.').nth(1) != Some(self.current.id.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealer() -> Sealer {
        Sealer::new(
            MasterKey::from_base64(&MasterKey::generate_base64()).unwrap_or_else(|e| panic!("{e}")),
            vec![],
        )
    }

    #[test]
    fn round_trip_with_right_key_and_tenant() {
        let sealer = sealer();
        let tenant = Uuid::new_v4();
        let sealed = sealer
            .seal(tenant, &SecretString::from("s3cret-password"))
            .expect("seal");
        assert!(!sealed.contains("s3cret"));
        let opened = sealer.open(tenant, &sealed).map(|s| s.expose_secret().to_owned());
        assert_eq!(opened, Ok("s3cret-password".to_owned()));
    }

    #[test]
    fn refuses_other_tenant_other_key_and_tampering() {
        let sealer = sealer();
        let tenant = Uuid::new_v4();
        let sealed = sealer.seal(tenant, &SecretString::from("pw")).expect("seal");
        assert_eq!(sealer.open(Uuid::new_v4(), &sealed).err(), Some(SealError::Forged));
        assert!(matches!(
            self::sealer().open(tenant, &sealed),
            Err(SealError::UnknownKey(_))
        ));
        let mut tampered = sealed.clone();
        tampered.pop();
        tampered.push(if sealed.ends_with('A') { 'B' } else { 'A' });
        assert!(sealer.open(tenant, &tampered).is_err());
        assert_eq!(sealer.open(tenant, "plain").err(), Some(SealError::Malformed));
    }

    #[test]
    fn nonces_are_random_and_old_keys_still_open() {
        let old = sealer();
        let tenant = Uuid::new_v4();
        let secret = SecretString::from("pw");
        assert_ne!(
            old.seal(tenant, &secret).expect("seal"),
            old.seal(tenant, &secret).expect("seal")
        );
        let sealed_old = old.seal(tenant, &secret).expect("seal");
        let rotated = Sealer::new(
            MasterKey::from_base64(&MasterKey::generate_base64()).unwrap_or_else(|e| panic!("{e}")),
            vec![old.current.clone()],
        );
        assert!(rotated.open(tenant, &sealed_old).is_ok());
        assert!(rotated.needs_reseal(&sealed_old));
        assert!(!rotated.needs_reseal(&rotated.seal(tenant, &secret).expect("seal")));
    }

    #[test]
    fn derived_keys_depend_on_the_purpose_and_the_master_key() {
        let key = MasterKey::generate_base64();
        let one = Sealer::new(MasterKey::from_base64(&key).unwrap_or_else(|e| panic!("{e}")), vec![]);
        let same = Sealer::new(MasterKey::from_base64(&key).unwrap_or_else(|e| panic!("{e}")), vec![]);
        let links = one.derive_key("export-links");
        assert_eq!(links.expose_secret(), same.derive_key("export-links").expose_secret());
        assert_ne!(links.expose_secret(), one.derive_key("other").expose_secret());
        assert_ne!(
            links.expose_secret(),
            sealer().derive_key("export-links").expose_secret()
        );
    }

    #[test]
    fn bad_keys_are_refused() {
        assert_eq!(MasterKey::from_base64("short").err(), Some(SealError::BadKey));
        assert_eq!(
            MasterKey::from_base64(&B64.encode([0u8; 16])).err(),
            Some(SealError::BadKey)
        );
    }
}
