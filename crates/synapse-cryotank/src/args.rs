//! Telepath arguments of the tank methods: offsets, sizes, timeouts and tank names, with
//! clear errors for values the reference would choke on.

use std::time::Duration;

use rmpv::Value;

use crate::error::{Error, Result};
use crate::record::type_name;

/// The longest tank name in bytes (the reference's `SafeKeyVal` key limit).
pub const MAX_NAME_LEN: usize = 511;

/// An offset: an integer from 0 to 2**64-1 (Python's `True`/`False` count as 1/0).
pub(crate) fn offs_arg(valu: &Value, name: &str) -> Result<u64> {
    match valu {
        Value::Integer(int) => match int.as_u64() {
            Some(offs) => Ok(offs),
            None => Err(Error::BadArg(format!(
                "{name} must not be negative, got {int}"
            ))),
        },
        Value::Boolean(flag) => Ok(u64::from(*flag)),
        Value::Ext(0, _) => Err(Error::BadArg(format!(
            "{name} is too large (the largest offset is 2**64-1)"
        ))),
        Value::Ext(1, _) => Err(Error::BadArg(format!("{name} must not be negative"))),
        other => Err(Error::BadArg(format!(
            "{name} must be an integer, not {}",
            type_name(other)
        ))),
    }
}

/// A size limit: `None` for no limit, negative sizes meaning zero (as in the reference).
pub(crate) fn size_arg(valu: &Value, name: &str) -> Result<Option<u64>> {
    match valu {
        Value::Nil => Ok(None),
        Value::Integer(int) => Ok(Some(int.as_u64().unwrap_or(0))),
        Value::Boolean(flag) => Ok(Some(u64::from(*flag))),
        // Larger than any tank: no limit.
        Value::Ext(0, _) => Ok(None),
        Value::Ext(1, _) => Ok(Some(0)),
        other => Err(Error::BadArg(format!(
            "{name} must be an integer or None, not {}",
            type_name(other)
        ))),
    }
}

/// A timeout in seconds: `None` waits forever; zero or less does not wait.
pub(crate) fn timeout_arg(valu: &Value) -> Result<Option<Duration>> {
    let secs = match valu {
        Value::Nil => return Ok(None),
        Value::Integer(int) => int.as_f64().unwrap_or(0.0),
        Value::F32(num) => f64::from(*num),
        Value::F64(num) => *num,
        Value::Boolean(flag) => f64::from(u8::from(*flag)),
        Value::Ext(0, _) => return Ok(None),
        Value::Ext(1, _) => return Ok(Some(Duration::ZERO)),
        other => {
            return Err(Error::BadArg(format!(
                "timeout must be a number or None, not {}",
                type_name(other)
            )));
        }
    };
    if secs.is_nan() {
        return Err(Error::BadArg("timeout must be a number, not NaN".into()));
    }
    if secs <= 0.0 {
        return Ok(Some(Duration::ZERO));
    }
    // Too long to represent: the same as waiting forever.
    Ok(Duration::try_from_secs_f64(secs).ok())
}

/// A tank name: a non-empty string of at most [`MAX_NAME_LEN`] bytes.
pub(crate) fn name_arg(valu: &Value) -> Result<String> {
    let text = match valu {
        Value::String(text) => match text.as_str() {
            Some(text) => text,
            None => return Err(Error::BadArg("tank names must be valid UTF-8".into())),
        },
        other => {
            return Err(Error::BadArg(format!(
                "SafeKeyVal key names must be strings, got {}.",
                type_name(other)
            )));
        }
    };
    check_name(text)?;
    Ok(text.to_string())
}

/// Check a tank name given as a string.
pub(crate) fn check_name(text: &str) -> Result<()> {
    if text.is_empty() {
        return Err(Error::BadArg("tank names must not be empty".into()));
    }
    if text.len() > MAX_NAME_LEN {
        return Err(Error::BadArg(format!(
            "SafeKeyVal keys with prefix  must be less < {MAX_NAME_LEN} bytes in length."
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets() {
        assert_eq!(offs_arg(&Value::from(5), "offs").unwrap(), 5);
        assert_eq!(offs_arg(&Value::from(u64::MAX), "offs").unwrap(), u64::MAX);
        assert_eq!(offs_arg(&Value::Boolean(true), "offs").unwrap(), 1);
        for bad in [
            Value::from(-1),
            Value::Ext(0, vec![1, 0, 0, 0, 0, 0, 0, 0, 0]),
            Value::Ext(1, vec![0xfe, 0, 0, 0, 0, 0, 0, 0, 0]),
            Value::from("x"),
            Value::F64(1.5),
            Value::Nil,
        ] {
            assert!(
                matches!(offs_arg(&bad, "offs"), Err(Error::BadArg(_))),
                "{bad}"
            );
        }
        let err = offs_arg(&Value::from(-1), "offs").unwrap_err();
        assert_eq!(err.to_string(), "offs must not be negative, got -1");
    }

    #[test]
    fn sizes() {
        assert_eq!(size_arg(&Value::Nil, "size").unwrap(), None);
        assert_eq!(size_arg(&Value::from(-3), "size").unwrap(), Some(0));
        assert_eq!(size_arg(&Value::from(7), "size").unwrap(), Some(7));
        assert_eq!(size_arg(&Value::Ext(0, vec![1; 9]), "size").unwrap(), None);
        assert!(matches!(
            size_arg(&Value::from("a"), "size"),
            Err(Error::BadArg(_))
        ));
    }

    #[test]
    fn timeouts() {
        assert_eq!(timeout_arg(&Value::Nil).unwrap(), None);
        assert_eq!(timeout_arg(&Value::from(-1)).unwrap(), Some(Duration::ZERO));
        assert_eq!(
            timeout_arg(&Value::F64(0.25)).unwrap(),
            Some(Duration::from_millis(250))
        );
        assert_eq!(timeout_arg(&Value::F64(1e300)).unwrap(), None);
        assert!(matches!(
            timeout_arg(&Value::F64(f64::NAN)),
            Err(Error::BadArg(_))
        ));
        assert!(matches!(
            timeout_arg(&Value::from("a")),
            Err(Error::BadArg(_))
        ));
    }

    #[test]
    fn names() {
        assert_eq!(name_arg(&Value::from("a/b")).unwrap(), "a/b");
        let err = name_arg(&Value::from(5)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "SafeKeyVal key names must be strings, got int."
        );
        assert!(name_arg(&Value::from("")).is_err());
        assert!(name_arg(&Value::from("x".repeat(511))).is_ok());
        assert!(name_arg(&Value::from("x".repeat(512))).is_err());
    }
}
