//! Key and value encodings used across Synapse's slabs (the reference's `int64en`,
//! `signedint64en`, layer integer indexes, guids, and msgpack).

use rmpv::Value;

use crate::error::{Error, Result};

/// 8-byte big-endian unsigned (`int64en`): Seqn offsets, queue offsets, abbreviations.
pub fn int64en(value: u64) -> [u8; 8] {
    value.to_be_bytes()
}

/// Decode [`int64en`] bytes (exactly 8).
pub fn int64un(bytes: &[u8]) -> Result<u64> {
    let array: [u8; 8] = bytes
        .try_into()
        .map_err(|_| Error::BadData(format!("expected 8 bytes, got {}", bytes.len())))?;
    Ok(u64::from_be_bytes(array))
}

/// 8-byte big-endian two's complement (`signedint64en`): HotCount values. Not
/// order-preserving for negative numbers.
pub fn signed_int64en(value: i64) -> [u8; 8] {
    value.to_be_bytes()
}

/// Decode [`signed_int64en`] bytes (exactly 8).
pub fn signed_int64un(bytes: &[u8]) -> Result<i64> {
    let array: [u8; 8] = bytes
        .try_into()
        .map_err(|_| Error::BadData(format!("expected 8 bytes, got {}", bytes.len())))?;
    Ok(i64::from_be_bytes(array))
}

/// The Cortex layer encoding of a signed integer in `size` bytes (1 to 16): big-endian of
/// `value + 2^(8*size-1) - 1`, which sorts numerically. Returns `None` when the value does not
/// fit (the offset is one less than a two's-complement bias, so the most negative value of the
/// width does not fit, as in the reference).
pub fn ord_int_en(value: i128, size: usize) -> Option<Vec<u8>> {
    if !(1..=16).contains(&size) {
        return None;
    }
    let bits = 8 * size as u32;
    let offset: u128 = (1u128 << (bits - 1)) - 1;
    let encoded = if value >= 0 {
        offset.checked_add(value.unsigned_abs())?
    } else {
        offset.checked_sub(value.unsigned_abs())?
    };
    if bits < 128 && encoded >> bits != 0 {
        return None;
    }
    Some(encoded.to_be_bytes()[16 - size..].to_vec())
}

/// Decode [`ord_int_en`] bytes.
pub fn ord_int_un(bytes: &[u8]) -> Result<i128> {
    if !(1..=16).contains(&bytes.len()) {
        return Err(Error::BadData(format!(
            "bad ordered int length {}",
            bytes.len()
        )));
    }
    let mut full = [0u8; 16];
    full[16 - bytes.len()..].copy_from_slice(bytes);
    let encoded = u128::from_be_bytes(full);
    let offset: u128 = (1u128 << (8 * bytes.len() as u32 - 1)) - 1;
    if encoded >= offset {
        i128::try_from(encoded - offset).map_err(|_| Error::BadData("ordered int overflow".into()))
    } else {
        let mag = offset - encoded;
        // mag <= 2^127 - 1 here, since encoded >= 0.
        i128::try_from(mag)
            .map(|mag| -mag)
            .map_err(|_| Error::BadData("ordered int overflow".into()))
    }
}

/// The 16 raw bytes of a 32-character hex guid.
pub fn guid_bytes(guid: &str) -> Result<[u8; 16]> {
    let mut out = [0u8; 16];
    let raw = guid.as_bytes();
    if raw.len() != 32 {
        return Err(Error::BadArg(format!("invalid guid: {guid:?}")));
    }
    for (idx, pair) in raw.chunks_exact(2).enumerate() {
        let hi = hex_digit(pair[0]);
        let lo = hex_digit(pair[1]);
        match (hi, lo) {
            (Some(hi), Some(lo)) => out[idx] = hi << 4 | lo,
            _ => return Err(Error::BadArg(format!("invalid guid: {guid:?}"))),
        }
    }
    Ok(out)
}

fn hex_digit(byte: u8) -> Option<u8> {
    char::from(byte)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// The lowercase hex guid of 16 raw bytes.
pub fn guid_hex(bytes: &[u8]) -> Result<String> {
    if bytes.len() != 16 {
        return Err(Error::BadData(format!("guid of {} bytes", bytes.len())));
    }
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(32);
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0xf)]));
    }
    Ok(out)
}

/// Encode a value as the reference's msgpack (`use_bin_type=True`: strings as str, bytes as
/// bin; big integers as the lead's `Ext(0|1, ..)` convention).
pub fn pack(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = rmpv::encode::write_value(&mut out, value);
    out
}

/// Decode one msgpack value that fills `bytes` exactly. Lengths claimed by the data are never
/// allocated up front, so hostile input cannot exhaust memory.
pub fn unpack(bytes: &[u8]) -> Result<Value> {
    let mut cursor = bytes;
    let value = rmpv::decode::read_value(&mut cursor)
        .map_err(|err| Error::BadData(format!("msgpack: {err}")))?;
    if !cursor.is_empty() {
        return Err(Error::BadData(format!(
            "msgpack: {} bytes of extra data",
            cursor.len()
        )));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int64_vectors() -> Result<()> {
        assert_eq!(hex::encode(int64en(1)), "0000000000000001");
        assert_eq!(hex::encode(signed_int64en(-1)), "ffffffffffffffff");
        assert_eq!(int64un(&int64en(77))?, 77);
        assert!(int64un(b"short").is_err());
        Ok(())
    }

    #[test]
    fn ord_int_vectors() -> Result<()> {
        assert_eq!(
            ord_int_en(0, 8).map(hex::encode).as_deref(),
            Some("7fffffffffffffff")
        );
        assert_eq!(
            ord_int_en(-1, 8).map(hex::encode).as_deref(),
            Some("7ffffffffffffffe")
        );
        assert_eq!(ord_int_en(i128::from(i64::MIN), 8), None);
        assert_eq!(ord_int_un(&ord_int_en(-5, 4).unwrap_or_default())?, -5);
        Ok(())
    }

    #[test]
    fn guid_round_trip() -> Result<()> {
        let guid = "0123456789abcdef0123456789abcdef";
        assert_eq!(guid_hex(&guid_bytes(guid)?)?, guid);
        assert!(guid_bytes("xyz").is_err());
        Ok(())
    }

    #[test]
    fn unpack_refuses_trailing_and_truncated() {
        assert!(unpack(&[0x01, 0x02]).is_err());
        // A bin32 header claiming 4 GiB with no body: refused without allocating it.
        assert!(unpack(&[0xc6, 0xff, 0xff, 0xff, 0xff]).is_err());
        assert_eq!(unpack(&[0xa1, b'v']).ok(), Some(Value::from("v")));
    }
}
