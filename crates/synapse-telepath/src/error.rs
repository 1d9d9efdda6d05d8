//! Errors: [`Error`] for local failures and [`RemoteError`], the `(name, info)` pair that
//! travels on the wire.
//!
//! The conversion between a [`RemoteError`] and its wire form lives here and nowhere else:
//! [`RemoteError::to_value`] / [`RemoteError::from_value`] for the `(name, info)` pair and
//! [`retn_ok`] / [`retn_err`] / [`parse_retn`] for the `(ok, value)` envelope.

use std::fmt;

use rmpv::Value;

use crate::codec::CodecError;
use crate::value::{ValueExt, map_set};

/// An error raised by the remote side (or to be sent to it): the reference's exception class
/// name and its info map.
///
/// `info` is always a map; `info["mesg"]` is the readable message. Remote errors from the
/// reference also carry `efile`, `eline`, `esrc` and `ename` (traceback details, opaque).
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteError {
    /// The exception class name, e.g. `"AuthDeny"`, `"NoSuchMeth"`, `"ValueError"`.
    pub name: String,
    /// The info map: `mesg` plus any other keys.
    pub info: Value,
}

impl fmt::Display for RemoteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.mesg() {
            Some(mesg) => write!(f, "{}: {}", self.name, mesg),
            None => write!(f, "{}", self.name),
        }
    }
}

impl std::error::Error for RemoteError {}

impl RemoteError {
    /// An error with `info = {"mesg": mesg}`.
    pub fn new(name: impl Into<String>, mesg: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            info: Value::Map(vec![(Value::from("mesg"), Value::from(mesg.into()))]),
        }
    }

    /// An error with an empty info map.
    pub fn bare(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            info: Value::Map(Vec::new()),
        }
    }

    /// Set (or replace) one info key.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        map_set(&mut self.info, key, value.into());
        self
    }

    /// The readable message (`info["mesg"]`), if there is one.
    pub fn mesg(&self) -> Option<&str> {
        self.info.get_key("mesg").and_then(Value::as_str)
    }

    /// One info value.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.info.get_key(key)
    }

    /// The wire form: `[name, info]`.
    pub fn to_value(&self) -> Value {
        Value::Array(vec![Value::from(self.name.as_str()), self.info.clone()])
    }

    /// Parse the wire form `[name, info]`. A non-map info is kept under `mesg` as text, so a
    /// misbehaving peer's error still reads well.
    pub fn from_value(value: Value) -> Result<Self, Error> {
        let Value::Array(mut items) = value else {
            return Err(Error::BadMesgFormat(format!(
                "error must be [name, info], got {value}"
            )));
        };
        if items.len() != 2 {
            return Err(Error::BadMesgFormat(format!(
                "error must be [name, info], got {} items",
                items.len()
            )));
        }
        let info = items.pop().unwrap_or(Value::Nil);
        let name = match items.pop() {
            Some(Value::String(name)) => name.into_str().unwrap_or_default(),
            other => {
                return Err(Error::BadMesgFormat(format!(
                    "error name must be a str, got {other:?}"
                )));
            }
        };
        let info = match info {
            Value::Map(_) => info,
            Value::Nil => Value::Map(Vec::new()),
            other => Value::Map(vec![(Value::from("mesg"), Value::from(other.to_string()))]),
        };
        Ok(Self { name, info })
    }

    // Constructors for the reference's common errors, with its messages.

    /// `NoSuchMeth {mesg: "<Class> has no method: <meth>.", name: meth}`: both for a missing
    /// method and a private one (a name starting with `_`).
    pub fn no_such_meth(class: &str, meth: &str) -> Self {
        Self::new("NoSuchMeth", format!("{class} has no method: {meth}.")).with("name", meth)
    }

    /// `NoSuchName {name}`: the handshake named a share that does not exist.
    pub fn no_such_name(name: &str) -> Self {
        Self::bare("NoSuchName").with("name", name)
    }

    /// `NoSuchObj {name}`: a `t2:init` for an unknown session or session item.
    pub fn no_such_obj(name: Value) -> Self {
        Self::bare("NoSuchObj").with("name", name)
    }

    /// `BadMesgVers {vers, myvers}`: a different major protocol version.
    pub fn bad_mesg_vers(vers: Value) -> Self {
        Self::bare("BadMesgVers")
            .with("vers", vers)
            .with("myvers", crate::msg::televers())
    }

    /// `BadMesgFormat {mesg}`.
    pub fn bad_mesg_format(mesg: impl Into<String>) -> Self {
        Self::new("BadMesgFormat", mesg)
    }

    /// `AuthDeny {mesg}`.
    pub fn auth_deny(mesg: impl Into<String>) -> Self {
        Self::new("AuthDeny", mesg)
    }

    /// `AuthDeny {mesg: "Invalid password", username, user}`: a wrong password, and also a
    /// locked user with the right one.
    pub fn invalid_password(username: &str, user_iden: &str) -> Self {
        Self::auth_deny("Invalid password")
            .with("username", username)
            .with("user", user_iden)
    }

    /// `NoSuchUser {username, mesg: "No such user: <name>."}`.
    pub fn no_such_user(username: &str) -> Self {
        Self::bare("NoSuchUser")
            .with("username", username)
            .with("mesg", format!("No such user: {username}."))
    }

    /// `AuthDeny {mesg: "Unable to find cell user (None)"}`: no credentials and no anonymous user.
    pub fn no_anon_user() -> Self {
        Self::auth_deny("Unable to find cell user (None)")
    }

    /// `AuthDeny {mesg: "User is not an admin [<name>]", user, username}`.
    pub fn not_admin(username: &str, user_iden: &str) -> Self {
        Self::auth_deny(format!("User is not an admin [{username}]"))
            .with("user", user_iden)
            .with("username", username)
    }

    /// `AuthDeny {mesg: "User must have permission <perm>", perm, user, username}`.
    pub fn need_perm(perm: &str, username: &str, user_iden: &str) -> Self {
        Self::auth_deny(format!("User must have permission {perm}"))
            .with("perm", perm)
            .with("user", user_iden)
            .with("username", username)
    }

    /// `BadArg {mesg}`.
    pub fn bad_arg(mesg: impl Into<String>) -> Self {
        Self::new("BadArg", mesg)
    }

    /// `NotMsgpackSafe {mesg}`: a value that cannot be encoded.
    pub fn not_msgpack_safe(mesg: impl Into<String>) -> Self {
        Self::new("NotMsgpackSafe", mesg)
    }

    /// Python's `TypeError` (wrong arguments to a method), with its message.
    pub fn type_error(mesg: impl Into<String>) -> Self {
        Self::new("TypeError", mesg)
    }

    /// `IsFini {mesg}`.
    pub fn is_fini(mesg: impl Into<String>) -> Self {
        Self::new("IsFini", mesg)
    }

    /// `LinkShutDown {mesg}`.
    pub fn link_shut_down(mesg: impl Into<String>) -> Self {
        Self::new("LinkShutDown", mesg)
    }

    /// `ShuttingDown {mesg}`.
    pub fn shutting_down(mesg: impl Into<String>) -> Self {
        Self::new("ShuttingDown", mesg)
    }

    /// `NotReady {mesg}`.
    pub fn not_ready(mesg: impl Into<String>) -> Self {
        Self::new("NotReady", mesg)
    }

    /// `TimeOut {mesg}`.
    pub fn timeout(mesg: impl Into<String>) -> Self {
        Self::new("TimeOut", mesg)
    }

    /// `SynErr {mesg}`: the generic error.
    pub fn syn_err(mesg: impl Into<String>) -> Self {
        Self::new("SynErr", mesg)
    }
}

/// A local failure of a telepath operation (or a [`RemoteError`] the peer sent).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The remote side raised an error.
    #[error("{0}")]
    Remote(#[from] RemoteError),
    /// A socket or file operation failed.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// Bytes could not be encoded or decoded.
    #[error("msgpack error: {0}")]
    Codec(#[from] CodecError),
    /// The operation did not finish in time.
    #[error("timed out")]
    Timeout,
    /// The link closed (or was already closed).
    #[error("link closed: {0}")]
    LinkShutDown(String),
    /// The URL could not be used.
    #[error("bad url: {0}")]
    BadUrl(String),
    /// A TLS setup or handshake problem (certificates, keys, verification).
    #[error("tls: {0}")]
    Tls(String),
    /// The server certificate's common name is not the expected `hostname`.
    #[error("bad certificate host: {0}")]
    BadCertHost(String),
    /// The server certificate does not match the pinned `certhash`.
    #[error("bad certificate: {0}")]
    LinkBadCert(String),
    /// The peer broke the protocol.
    #[error("bad message: {0}")]
    BadMesgFormat(String),
    /// The peer speaks another major protocol version.
    #[error("unsupported telepath version {0}")]
    BadMesgVers(String),
    /// The object was torn down.
    #[error("the object is fini")]
    IsFini,
    /// Not connected yet (a [`crate::Client`] waiting for its first connection).
    #[error("not ready: {0}")]
    NotReady(String),
    /// A blocking call was made on the blocking facade's own runtime thread (it would
    /// deadlock).
    #[error("blocking telepath call made on the telepath sync runtime thread")]
    BlockingInAsync,
}

impl From<synapse_base::IsFini> for Error {
    fn from(_: synapse_base::IsFini) -> Self {
        Error::IsFini
    }
}

impl Error {
    /// The reference's class name for this error (the remote name for [`Error::Remote`]).
    pub fn name(&self) -> &str {
        match self {
            Error::Remote(err) => &err.name,
            Error::Io(_) => "LinkErr",
            Error::Codec(_) => "BadMesgFormat",
            Error::Timeout => "TimeOut",
            Error::LinkShutDown(_) => "LinkShutDown",
            Error::BadUrl(_) => "BadUrl",
            Error::Tls(_) => "LinkErr",
            Error::BadCertHost(_) => "BadCertHost",
            Error::LinkBadCert(_) => "LinkBadCert",
            Error::BadMesgFormat(_) => "BadMesgFormat",
            Error::BadMesgVers(_) => "BadMesgVers",
            Error::IsFini => "IsFini",
            Error::NotReady(_) => "NotReady",
            Error::BlockingInAsync => "SynErr",
        }
    }

    /// The remote error, if the peer raised one.
    pub fn remote(&self) -> Option<&RemoteError> {
        match self {
            Error::Remote(err) => Some(err),
            _ => None,
        }
    }
}

impl From<Error> for RemoteError {
    fn from(err: Error) -> Self {
        match err {
            Error::Remote(err) => err,
            other => RemoteError::new(other.name(), other.to_string()),
        }
    }
}

impl From<CodecError> for RemoteError {
    fn from(err: CodecError) -> Self {
        RemoteError::not_msgpack_safe(err.to_string())
    }
}

/// The success envelope `[true, value]`.
pub fn retn_ok(value: Value) -> Value {
    Value::Array(vec![Value::Boolean(true), value])
}

/// The failure envelope `[false, [name, info]]`.
pub fn retn_err(err: &RemoteError) -> Value {
    Value::Array(vec![Value::Boolean(false), err.to_value()])
}

/// The envelope for a result.
pub fn retn(res: Result<Value, RemoteError>) -> Value {
    match res {
        Ok(value) => retn_ok(value),
        Err(err) => retn_err(&err),
    }
}

/// Open an envelope: the outer error is a malformed envelope, the inner one what the peer
/// raised.
pub fn parse_retn(value: Value) -> Result<Result<Value, RemoteError>, Error> {
    let Value::Array(mut items) = value else {
        return Err(Error::BadMesgFormat(format!(
            "retn must be [ok, value], got {value}"
        )));
    };
    if items.len() != 2 {
        return Err(Error::BadMesgFormat(format!(
            "retn must be [ok, value], got {} items",
            items.len()
        )));
    }
    let value = items.pop().unwrap_or(Value::Nil);
    match items.pop() {
        Some(Value::Boolean(true)) => Ok(Ok(value)),
        Some(Value::Boolean(false)) => Ok(Err(RemoteError::from_value(value)?)),
        other => Err(Error::BadMesgFormat(format!(
            "retn flag must be a bool, got {other:?}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_roundtrip() {
        let err = RemoteError::no_such_meth("VecAxonApi", "_secret");
        assert_eq!(err.mesg(), Some("VecAxonApi has no method: _secret."));
        assert_eq!(err.get("name").and_then(Value::as_str), Some("_secret"));
        let back = parse_retn(retn_err(&err)).unwrap().unwrap_err();
        assert_eq!(back, err);
        assert_eq!(
            parse_retn(retn_ok(Value::from(5))).unwrap().unwrap(),
            Value::from(5)
        );
        assert_eq!(
            err.to_string(),
            "NoSuchMeth: VecAxonApi has no method: _secret."
        );
    }

    #[test]
    fn malformed_envelopes() {
        assert!(parse_retn(Value::from(1)).is_err());
        assert!(parse_retn(Value::Array(vec![Value::from(1), Value::Nil])).is_err());
        let odd = Value::Array(vec![
            Value::Boolean(false),
            Value::Array(vec![Value::from("Oops"), Value::from(3)]),
        ]);
        let err = parse_retn(odd).unwrap().unwrap_err();
        assert_eq!(err.name, "Oops");
        assert_eq!(err.mesg(), Some("3"));
    }

    #[test]
    fn local_errors_map_to_reference_names() {
        let err: RemoteError = Error::Timeout.into();
        assert_eq!(err.name, "TimeOut");
        let err: RemoteError = Error::Remote(RemoteError::bad_arg("x")).into();
        assert_eq!(err.name, "BadArg");
    }
}
