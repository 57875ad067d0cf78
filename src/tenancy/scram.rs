//! SCRAM-SHA-256 password verifiers, computed here so that `CREATE ROLE ... PASSWORD`
//! never carries a plain password (which PostgreSQL could write to its log).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};

const ITERATIONS: u32 = 4096;

/// The verifier PostgreSQL stores for `password`, in its own text format.
pub fn scram_sha256_verifier(password: &str) -> String {
    let mut salt = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    verifier_with_salt(password, &salt, ITERATIONS)
}

fn verifier_with_salt(password: &str, salt: &[u8], iterations: u32) -> String {
    let mut salted = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), salt, iterations, &mut salted);
    let client_key = hmac(&salted, b"Client Key");
    let stored_key = Sha256::digest(client_key);
    let server_key = hmac(&salted, b"Server Key");
    format!(
        "SCRAM-SHA-256${iterations}:{}${}:{}",
        B64.encode(salt),
        B64.encode(stored_key),
        B64.encode(server_key)
    )
}

fn hmac(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifier_has_postgres_format_and_hides_the_password() {
        let v = scram_sha256_verifier("hunter2-password");
        assert!(v.starts_with("SCRAM-SHA-256$4096:"));
        assert!(!v.contains("hunter2"));
        assert_ne!(v, scram_sha256_verifier("hunter2-password"), "salt is random");
    }

    #[test]
    fn salt_and_iterations_are_encoded() {
        // PostgreSQL accepting the verifier is checked end to end: tenant roles log in with it.
        let v = verifier_with_salt("pencil", b"saltsaltsaltsalt", 4096);
        assert!(v.starts_with("SCRAM-SHA-256$4096:c2FsdHNhbHRzYWx0c2FsdA==$"), "{v}");
    }
}
