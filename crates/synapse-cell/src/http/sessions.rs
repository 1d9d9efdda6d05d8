//! HTTP login sessions: stored server-side (DB `http:sess`, the reference's GuidStor layout:
//! 16-byte iden + property name → msgpack) and named by a Tornado v2 signed cookie
//! (`2|1:0|10:<ts>|4:sess|44:<b64 iden>|<hmac-sha256 hex>`, key = `cookie.secret`).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use base64::Engine;
use rmpv::Value;
use subtle::ConstantTimeEq;

use crate::dirn::CellDir;
use crate::error::Result;
use crate::store::{Store, StoreOp};
use crate::value::{decode, encode};

const DB: &str = "http:sess";
/// Cookie lifetime (days), as the reference.
const MAX_AGE_DAYS: i64 = 14;

/// One session's stored info.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct SessInfo {
    pub(crate) created: i64,
    pub(crate) user: Option<String>,
    pub(crate) username: Option<String>,
}

struct Inner {
    store: Arc<dyn Store>,
    secret: String,
    sessions: RwLock<HashMap<String, SessInfo>>,
}

/// The cell's HTTP sessions. Cheap to clone.
#[derive(Clone)]
pub(crate) struct HttpSessions {
    inner: Arc<Inner>,
}

fn row(iden: &str, prop: &str) -> Vec<u8> {
    let mut key = hex::decode(iden).unwrap_or_else(|_| iden.as_bytes().to_vec());
    key.extend_from_slice(prop.as_bytes());
    key
}

fn now_secs() -> i64 {
    synapse_base::now_ms() / 1000
}

fn sign(secret: &str, text: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    hex::encode(ring::hmac::sign(&key, text).as_ref())
}

fn field(text: &str) -> String {
    format!("{}:{text}", text.len())
}

impl HttpSessions {
    /// Load the sessions and the cookie secret.
    pub(crate) async fn open(
        store: Arc<dyn Store>,
        _auth: &crate::auth::Auth,
        dir: &CellDir,
    ) -> Result<Self> {
        let secret = dir.cookie_secret()?;
        let mut sessions: HashMap<String, SessInfo> = HashMap::new();
        for (key, val) in store.scan(DB, b"").await? {
            if key.len() <= 16 {
                continue;
            }
            let iden = hex::encode(&key[..16]);
            let prop = String::from_utf8_lossy(&key[16..]).into_owned();
            let valu = decode(&val)?;
            let info = sessions.entry(iden).or_default();
            match prop.as_str() {
                "created" => info.created = valu.as_i64().unwrap_or(0),
                "user" => info.user = valu.as_str().map(str::to_string),
                "username" => info.username = valu.as_str().map(str::to_string),
                _ => {}
            }
        }
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                secret,
                sessions: RwLock::new(sessions),
            }),
        })
    }

    /// A signed cookie value for session `iden`.
    pub(crate) fn make_cookie(&self, iden: &str) -> String {
        let b64 = base64::engine::general_purpose::STANDARD.encode(iden.as_bytes());
        let to_sign = format!(
            "2|{}|{}|{}|{}|",
            field("0"),
            field(&now_secs().to_string()),
            field("sess"),
            field(&b64)
        );
        let sig = sign(&self.inner.secret, to_sign.as_bytes());
        format!("{to_sign}{sig}")
    }

    /// The session iden of a signed cookie, if valid and not expired.
    pub(crate) fn verify_cookie(&self, cookie: &str) -> Option<String> {
        let rest = cookie.strip_prefix("2|")?;
        let mut fields = Vec::new();
        let mut rest = rest;
        for _ in 0..4 {
            let (len, after) = rest.split_once(':')?;
            let len: usize = len.parse().ok()?;
            let valu = after.get(..len)?;
            rest = after.get(len..)?.strip_prefix('|')?;
            fields.push(valu);
        }
        let signature = rest;
        let signed = &cookie[..cookie.len() - signature.len()];
        let expect = sign(&self.inner.secret, signed.as_bytes());
        if !bool::from(expect.as_bytes().ct_eq(signature.as_bytes())) {
            return None;
        }
        let [_keyvers, timestamp, name, value] = fields[..] else {
            return None;
        };
        if name != "sess" {
            return None;
        }
        let ts: i64 = timestamp.parse().ok()?;
        let now = now_secs();
        if ts < now - MAX_AGE_DAYS * 86400 || ts > now + 31 * 86400 {
            return None;
        }
        let raw = base64::engine::general_purpose::STANDARD
            .decode(value)
            .ok()?;
        let iden = String::from_utf8(raw).ok()?;
        crate::value::is_guid(&iden).then_some(iden)
    }

    /// A session's info.
    pub(crate) fn get(&self, iden: &str) -> Option<SessInfo> {
        self.inner
            .sessions
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(iden)
            .cloned()
    }

    /// Record a login on session `iden` (created if new).
    pub(crate) async fn login(&self, iden: &str, user: &str, username: &str) -> Result<()> {
        let existing = self.get(iden);
        let created = existing
            .as_ref()
            .map_or_else(synapse_base::now_ms, |s| s.created);
        let mut ops = Vec::new();
        if existing.is_none() {
            ops.push(StoreOp::put(
                DB,
                row(iden, "created"),
                encode(&Value::from(created)),
            ));
        }
        ops.push(StoreOp::put(
            DB,
            row(iden, "user"),
            encode(&Value::from(user)),
        ));
        ops.push(StoreOp::put(
            DB,
            row(iden, "username"),
            encode(&Value::from(username)),
        ));
        self.inner.store.apply(ops).await?;
        self.inner
            .sessions
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                iden.to_string(),
                SessInfo {
                    created,
                    user: Some(user.to_string()),
                    username: Some(username.to_string()),
                },
            );
        Ok(())
    }

    /// Delete a session.
    pub(crate) async fn delete(&self, iden: &str) -> Result<()> {
        let prefix = row(iden, "");
        self.inner
            .store
            .apply(vec![StoreOp::delete_prefix(DB, prefix)])
            .await?;
        self.inner
            .sessions
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(iden);
        Ok(())
    }

    /// End every session of a user (on lock or delete).
    pub(crate) async fn end_user_sessions(&self, useriden: &str) -> Result<()> {
        let idens: Vec<String> = self
            .inner
            .sessions
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|(_, info)| info.user.as_deref() == Some(useriden))
            .map(|(iden, _)| iden.clone())
            .collect();
        for iden in idens {
            self.delete(&iden).await?;
        }
        Ok(())
    }
}

/// An HTTP date (IMF-fixdate) for epoch seconds.
pub(crate) fn http_date(secs: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = secs.div_euclid(86400);
    let rem = secs.rem_euclid(86400);
    let (hh, mm, ss) = (rem / 3600, (rem % 3600) / 60, rem % 60);
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let weekday = DAYS[days.rem_euclid(7) as usize];
    format!(
        "{weekday}, {day:02} {} {year} {hh:02}:{mm:02}:{ss:02} GMT",
        MONTHS[(month - 1) as usize]
    )
}

/// The `Set-Cookie` value of a login.
pub(crate) fn login_cookie(value: &str) -> String {
    format!(
        "sess=\"{value}\"; expires={}; HttpOnly; Path=/; Secure",
        http_date(now_secs() + MAX_AGE_DAYS * 86400)
    )
}

/// The `Set-Cookie` value that clears the session cookie.
pub(crate) fn clear_cookie() -> String {
    format!(
        "sess=\"\"; expires={}; Path=/",
        http_date(now_secs() - 365 * 86400)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemStore;

    #[test]
    fn http_dates() {
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(http_date(1_795_618_196), "Wed, 25 Nov 2026 14:49:56 GMT");
    }

    #[test]
    fn tornado_signature_matches() {
        // A cookie made by the reference (Tornado 6) with secret "s3cret".
        let to_sign = "2|1:0|10:1795618196|4:sess|44:Nzc3ZmI5ZjI5MmUxMWJhYzViMjUwMjQ4OWNjMWVjMjU=|";
        assert_eq!(
            sign("s3cret", to_sign.as_bytes()),
            "2292624f19f7ba75f2592624fa43708f5aa24e7488338922af1fcdd2215ff77f"
        );
    }

    #[tokio::test]
    async fn cookies_verify_and_sessions_persist() {
        let dir = tempfile::tempdir().unwrap();
        let cdir = CellDir::open(dir.path(), "cell", None).unwrap();
        let store: Arc<dyn Store> = Arc::new(MemStore::new());
        let auth = crate::auth::Auth::open(
            store.clone(),
            crate::auth::AuthOptions::for_cell(cdir.iden()),
        )
        .await
        .unwrap();
        let sessions = HttpSessions::open(store.clone(), &auth, &cdir)
            .await
            .unwrap();
        let iden = synapse_base::guid();
        let cookie = sessions.make_cookie(&iden);
        assert!(cookie.starts_with("2|1:0|10:"));
        assert_eq!(
            sessions.verify_cookie(&cookie).as_deref(),
            Some(iden.as_str())
        );
        // tampering breaks it
        let bad = cookie.replace("|4:sess|", "|4:xess|");
        assert!(sessions.verify_cookie(&bad).is_none());
        assert!(sessions.verify_cookie("garbage").is_none());
        assert!(sessions.verify_cookie(&format!("{cookie}0")).is_none());

        sessions.login(&iden, "u", "visi").await.unwrap();
        let again = HttpSessions::open(store.clone(), &auth, &cdir)
            .await
            .unwrap();
        assert_eq!(again.get(&iden).unwrap().username.as_deref(), Some("visi"));
        again.end_user_sessions("u").await.unwrap();
        assert!(again.get(&iden).is_none());
        let third = HttpSessions::open(store, &auth, &cdir).await.unwrap();
        assert!(third.get(&iden).is_none());
    }
}
