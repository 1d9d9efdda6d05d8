//! Password shadows (PBKDF2-HMAC-SHA256, 310,000 iterations, 32-byte salt) and API keys.
//!
//! Stored shape (the reference's "shadow v2"):
//! `{"type": "pbkdf2", "hashed": <32 bytes>, "func_params": {"salt": <32 bytes>,
//! "iterations": 310000, "hash_name": "sha256"}}`.
//! Hashing runs on the blocking pool; comparisons are constant-time. Successful checks are
//! remembered (keyed by a SHA-256 digest of password and shadow, never the password itself) so
//! HTTP basic auth does not pay the KDF on every request; failed checks always pay it.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, OnceLock};

use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use rand::RngCore;
use rmpv::Value;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::{ErrKind, Error, Result};
use crate::value::{guid_of, map, map_get};

/// The KDF name stored in shadows.
pub const PBKDF2: &str = "pbkdf2";
/// The hash the KDF uses.
pub const PBKDF2_HASH: &str = "sha256";
/// PBKDF2 iterations (OWASP 2022, as the reference).
pub const PBKDF2_ITERATIONS: u32 = 310_000;

/// A v2 password shadow.
#[derive(Clone, PartialEq, Eq)]
pub struct Shadow {
    /// The derived key (32 bytes).
    pub hashed: Vec<u8>,
    /// The random salt (32 bytes).
    pub salt: Vec<u8>,
    /// PBKDF2 iterations.
    pub iterations: u32,
    /// The HMAC hash name (`sha256`).
    pub hash_name: String,
}

impl std::fmt::Debug for Shadow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shadow")
            .field("iterations", &self.iterations)
            .field("hash_name", &self.hash_name)
            .finish_non_exhaustive()
    }
}

impl Shadow {
    /// The stored (msgpack) form.
    pub fn to_value(&self) -> Value {
        map([
            ("type", Value::from(PBKDF2)),
            ("hashed", Value::Binary(self.hashed.clone())),
            (
                "func_params",
                map([
                    ("salt", Value::Binary(self.salt.clone())),
                    ("iterations", Value::from(self.iterations)),
                    ("hash_name", Value::from(self.hash_name.as_str())),
                ]),
            ),
        ])
    }

    /// Parse the stored form; malformed shadows are `CryptoErr` as in the reference.
    pub fn from_value(valu: &Value) -> Result<Self> {
        let crypto = |mesg: &str| Error::new(ErrKind::CryptoErr, mesg);
        let ptyp = map_get(valu, "type").and_then(Value::as_str);
        if ptyp != Some(PBKDF2) {
            return Err(crypto("type does not map to a known function"));
        }
        let hashed = match map_get(valu, "hashed") {
            Some(Value::Binary(b)) => b.clone(),
            _ => return Err(crypto("No hashed in pbdkf2 shadow")),
        };
        let params = map_get(valu, "func_params")
            .ok_or_else(|| crypto("No func_params in pbdkf2 shadow"))?;
        let hash_name = map_get(params, "hash_name")
            .and_then(Value::as_str)
            .ok_or_else(|| crypto("Missing hash_name in pbdkf2 shadow"))?
            .to_string();
        let salt = match map_get(params, "salt") {
            Some(Value::Binary(b)) => b.clone(),
            _ => return Err(crypto("Missing salt in pbdkf2 shadow")),
        };
        let iterations = map_get(params, "iterations")
            .and_then(Value::as_u64)
            .and_then(|i| u32::try_from(i).ok())
            .ok_or_else(|| crypto("Missing iterations in pbdkf2 shadow"))?;
        Ok(Self {
            hashed,
            salt,
            iterations,
            hash_name,
        })
    }
}

/// A stored password: a v2 shadow, or the pre-v2 `(salt, guid((salt, passwd)))` pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoredPasswd {
    /// PBKDF2 shadow.
    V2(Shadow),
    /// Legacy salted md5 guid; moved to v2 at the next successful login.
    Legacy {
        /// The salt guid.
        salt: String,
        /// `guid((salt, passwd))`.
        hashed: String,
    },
}

impl StoredPasswd {
    /// The stored form.
    pub fn to_value(&self) -> Value {
        match self {
            StoredPasswd::V2(shadow) => shadow.to_value(),
            StoredPasswd::Legacy { salt, hashed } => Value::Array(vec![
                Value::from(salt.as_str()),
                Value::from(hashed.as_str()),
            ]),
        }
    }

    /// Parse a stored password (nil → `None`).
    pub fn from_value(valu: &Value) -> Result<Option<Self>> {
        match valu {
            Value::Nil => Ok(None),
            Value::Map(_) => Shadow::from_value(valu).map(|s| Some(StoredPasswd::V2(s))),
            Value::Array(items) if items.len() == 2 => {
                match (items[0].as_str(), items[1].as_str()) {
                    (Some(salt), Some(hashed)) => Ok(Some(StoredPasswd::Legacy {
                        salt: salt.to_string(),
                        hashed: hashed.to_string(),
                    })),
                    _ => Err(Error::new(ErrKind::CryptoErr, "malformed legacy password")),
                }
            }
            _ => Err(Error::new(ErrKind::CryptoErr, "malformed stored password")),
        }
    }

    /// Check a password (constant-time compare; the KDF runs on the blocking pool).
    pub async fn check(&self, passwd: &str) -> Result<bool> {
        match self {
            StoredPasswd::V2(shadow) => check_shadow(passwd, shadow).await,
            StoredPasswd::Legacy { salt, hashed } => {
                let check = guid_of(&Value::Array(vec![
                    Value::from(salt.as_str()),
                    Value::from(passwd),
                ]));
                Ok(bool::from(check.as_bytes().ct_eq(hashed.as_bytes())))
            }
        }
    }
}

fn derive(passwd: &[u8], salt: &[u8], iterations: u32) -> [u8; 32] {
    let mut out = [0u8; 32];
    // ring's PBKDF2 is not generic code, so it runs at full speed in every build profile.
    let iterations = std::num::NonZeroU32::new(iterations).unwrap_or(std::num::NonZeroU32::MIN);
    ring::pbkdf2::derive(
        ring::pbkdf2::PBKDF2_HMAC_SHA256,
        iterations,
        salt,
        passwd,
        &mut out,
    );
    out
}

/// Make a new v2 shadow for `passwd` with a random salt.
pub async fn make_shadow(passwd: &str) -> Result<Shadow> {
    let passwd = passwd.as_bytes().to_vec();
    tokio::task::spawn_blocking(move || {
        let mut salt = vec![0u8; 32];
        rand::thread_rng().fill_bytes(&mut salt);
        let hashed = derive(&passwd, &salt, PBKDF2_ITERATIONS).to_vec();
        Shadow {
            hashed,
            salt,
            iterations: PBKDF2_ITERATIONS,
            hash_name: PBKDF2_HASH.to_string(),
        }
    })
    .await
    .map_err(|err| Error::new(ErrKind::SynErr, format!("password hashing failed: {err}")))
}

const CACHE_SIZE: usize = 256;

#[derive(Default)]
struct OkCache {
    keys: HashMap<[u8; 32], ()>,
    order: VecDeque<[u8; 32]>,
}

fn ok_cache() -> &'static Mutex<OkCache> {
    static CACHE: OnceLock<Mutex<OkCache>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(OkCache::default()))
}

fn cache_key(passwd: &str, shadow: &Shadow) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for part in [
        shadow.hash_name.as_bytes(),
        &shadow.iterations.to_be_bytes(),
        &shadow.salt,
        &shadow.hashed,
        passwd.as_bytes(),
    ] {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part);
    }
    hasher.finalize().into()
}

/// Check `passwd` against a v2 shadow.
pub async fn check_shadow(passwd: &str, shadow: &Shadow) -> Result<bool> {
    if shadow.hash_name != PBKDF2_HASH {
        return Err(Error::new(
            ErrKind::CryptoErr,
            format!("unsupported hash_name [{}]", shadow.hash_name),
        ));
    }
    let key = cache_key(passwd, shadow);
    {
        let cache = ok_cache().lock().unwrap_or_else(|e| e.into_inner());
        if cache.keys.contains_key(&key) {
            return Ok(true);
        }
    }
    let passwd = passwd.as_bytes().to_vec();
    let salt = shadow.salt.clone();
    let iterations = shadow.iterations;
    let derived = tokio::task::spawn_blocking(move || derive(&passwd, &salt, iterations))
        .await
        .map_err(|err| Error::new(ErrKind::SynErr, format!("password check failed: {err}")))?;
    let ok = bool::from(derived.as_slice().ct_eq(shadow.hashed.as_slice()));
    if ok {
        let mut cache = ok_cache().lock().unwrap_or_else(|e| e.into_inner());
        if cache.keys.insert(key, ()).is_none() {
            cache.order.push_back(key);
            while cache.order.len() > CACHE_SIZE {
                if let Some(old) = cache.order.pop_front() {
                    cache.keys.remove(&old);
                }
            }
        }
    }
    Ok(ok)
}

fn key_engine() -> GeneralPurpose {
    GeneralPurpose::new(
        &base64::alphabet::URL_SAFE,
        GeneralPurposeConfig::new()
            .with_encode_padding(true)
            .with_decode_padding_mode(DecodePaddingMode::RequireCanonical)
            .with_decode_allow_trailing_bits(true),
    )
}

/// A new API key: `(key iden, key text, shadow of the secret)`.
///
/// The key text is URL-safe base64 (with padding) of the 16-byte iden and the 16-byte secret;
/// the secret is stored only as a shadow of its 32 hex characters.
pub async fn generate_api_key() -> Result<(String, String, Shadow)> {
    let iden = synapse_base::guid();
    let secv = synapse_base::guid();
    let mut raw = hex::decode(&iden).unwrap_or_default();
    raw.extend(hex::decode(&secv).unwrap_or_default());
    let key = key_engine().encode(raw);
    let shadow = make_shadow(&secv).await?;
    Ok((iden, key, shadow))
}

/// Parse an API key into `(iden, secret)` hex strings, or a reason it is malformed.
pub fn parse_api_key(key: &str) -> std::result::Result<(String, String), String> {
    if key.contains('+') || key.contains('/') {
        return Err("Invalid character in API key.".to_string());
    }
    let raw = key_engine()
        .decode(key.as_bytes())
        .map_err(|err| err.to_string())?;
    if raw.len() != 32 {
        return Err(format!("Incorrect length, got {}", key.len()));
    }
    Ok((hex::encode(&raw[..16]), hex::encode(&raw[16..])))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derive_matches_python_hashlib() {
        // hashlib.pbkdf2_hmac('sha256', b'secret', b'salt' * 8, 1000).hex()
        let out = derive(b"secret", &b"salt".repeat(8), 1000);
        assert_eq!(
            hex::encode(out),
            "4da998594f597a82dcc7a31b09dbc33cfe9812baeb6d2de9baf3490808822719"
        );
    }

    #[tokio::test]
    async fn shadow_roundtrip_and_check() {
        let shadow = make_shadow("visi").await.unwrap();
        assert_eq!(shadow.salt.len(), 32);
        assert_eq!(shadow.hashed.len(), 32);
        let back = Shadow::from_value(&shadow.to_value()).unwrap();
        assert_eq!(back, shadow);
        assert!(check_shadow("visi", &shadow).await.unwrap());
        assert!(!check_shadow("vIsi", &shadow).await.unwrap());
        // cached success path
        assert!(check_shadow("visi", &shadow).await.unwrap());
    }

    #[tokio::test]
    async fn legacy_passwords_check() {
        let salt = "a".repeat(32);
        let hashed = guid_of(&Value::Array(vec![
            Value::from(salt.as_str()),
            Value::from("pass"),
        ]));
        let stored = StoredPasswd::from_value(&StoredPasswd::Legacy { salt, hashed }.to_value())
            .unwrap()
            .unwrap();
        assert!(stored.check("pass").await.unwrap());
        assert!(!stored.check("nope").await.unwrap());
    }

    #[test]
    fn malformed_shadows_are_crypto_errors() {
        let err = Shadow::from_value(&map([("type", Value::from("pbkdf2"))])).unwrap_err();
        assert_eq!(err.kind(), ErrKind::CryptoErr);
        assert_eq!(err.mesg(), "No hashed in pbdkf2 shadow");
    }

    #[tokio::test]
    async fn api_keys_parse_back() {
        let (iden, key, shadow) = generate_api_key().await.unwrap();
        assert_eq!(key.len(), 44);
        assert!(key.ends_with('='));
        let (piden, secv) = parse_api_key(&key).unwrap();
        assert_eq!(piden, iden);
        assert!(check_shadow(&secv, &shadow).await.unwrap());
        assert!(parse_api_key("bogus").is_err());
        assert!(parse_api_key("ab+c").is_err());
        // The example from the spec parses.
        let (iden, _) = parse_api_key("QkbqCmv1-J1L98y0FvkCdUzbc_gHkMM6Hmw9PmhAzLg=").unwrap();
        assert_eq!(iden.len(), 32);
    }
}
