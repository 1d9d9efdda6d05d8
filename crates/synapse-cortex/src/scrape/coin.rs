//! Cryptocurrency address checks: a scraped candidate counts only when its encoding and
//! checksum are valid for its coin (Bitcoin base58 and bech32, Ethereum EIP-55, Bitcoin Cash
//! cashaddr, XRP classic and X-addresses, Polkadot/Kusama SS58, Cardano Byron and Shelley).
//! Each returns the `(coin, address)` value the reference makes.

use sha2::{Digest, Sha256};

const BTC_ALPHABET: &[u8] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
const XRP_ALPHABET: &[u8] = b"rpshnaf39wBUDNEGHJKLM4PQRST7VWXYZ2bcdeCg65jkm8oFqi1tuvAxyz";
const BECH32_CHARSET: &str = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";

/// Base58 decoding (leading zero digits become zero bytes), `None` on a character outside the
/// alphabet.
fn b58decode(text: &str, alphabet: &[u8]) -> Option<Vec<u8>> {
    let text = text.trim_end_matches(super::check::py_isspace);
    let zero = alphabet[0] as char;
    let nzeros = text.chars().take_while(|c| *c == zero).count();
    // big-endian base-256 digits of the number
    let mut num: Vec<u8> = Vec::new();
    for c in text.chars().skip(nzeros) {
        let digit = alphabet.iter().position(|a| *a as char == c)? as u32;
        let mut carry = digit;
        for byte in num.iter_mut().rev() {
            let v = u32::from(*byte) * 58 + carry;
            *byte = (v & 0xff) as u8;
            carry = v >> 8;
        }
        while carry > 0 {
            num.insert(0, (carry & 0xff) as u8);
            carry >>= 8;
        }
    }
    let mut out = vec![0u8; nzeros];
    out.extend(num);
    Some(out)
}

/// Base58 with a 4-byte double-SHA256 checksum.
fn b58decode_check(text: &str, alphabet: &[u8]) -> Option<Vec<u8>> {
    let mut data = b58decode(text, alphabet)?;
    if data.len() < 4 {
        return None;
    }
    let check = data.split_off(data.len() - 4);
    let digest = Sha256::digest(Sha256::digest(&data));
    (check[..] == digest[..4]).then_some(data)
}

fn bech32_polymod(values: &[u8]) -> u32 {
    const GEN: [u32; 5] = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];
    let mut chk: u32 = 1;
    for v in values {
        let top = chk >> 25;
        chk = ((chk & 0x1ffffff) << 5) ^ u32::from(*v);
        for (i, g) in GEN.iter().enumerate() {
            if (top >> i) & 1 == 1 {
                chk ^= g;
            }
        }
    }
    chk
}

/// Bech32 (not bech32m) decoding: the human-readable part and the data without checksum.
/// `max_pos` is the highest allowed position of the separator.
fn bech32_decode(text: &str, max_len: Option<usize>, max_pos: usize) -> Option<(String, Vec<u8>)> {
    if text.chars().any(|c| !('!'..='~').contains(&c)) {
        return None;
    }
    if text.to_lowercase() != text && text.to_uppercase() != text {
        return None;
    }
    let lower = text.to_lowercase();
    let pos = lower.rfind('1')?;
    if pos < 1 || pos > max_pos || pos + 7 > lower.len() || max_len.is_some_and(|m| lower.len() > m)
    {
        return None;
    }
    let hrp = &lower[..pos];
    let mut data = Vec::new();
    for c in lower[pos + 1..].chars() {
        data.push(BECH32_CHARSET.find(c)? as u8);
    }
    let mut values: Vec<u8> = hrp.bytes().map(|b| b >> 5).collect();
    values.push(0);
    values.extend(hrp.bytes().map(|b| b & 31));
    values.extend(&data);
    if bech32_polymod(&values) != 1 {
        return None;
    }
    data.truncate(data.len() - 6);
    Some((hrp.to_owned(), data))
}

/// Regroup bits (`convertbits` of the bech32 reference code).
fn convertbits(data: &[u8], from: u32, to: u32, pad: bool) -> Option<Vec<u8>> {
    let mut acc: u32 = 0;
    let mut bits: u32 = 0;
    let mut out = Vec::new();
    let maxv = (1u32 << to) - 1;
    let max_acc = (1u32 << (from + to - 1)) - 1;
    for v in data {
        let v = u32::from(*v);
        if v >> from != 0 {
            return None;
        }
        acc = ((acc << from) | v) & max_acc;
        bits += from;
        while bits >= to {
            bits -= to;
            out.push(((acc >> bits) & maxv) as u8);
        }
    }
    if pad {
        if bits > 0 {
            out.push(((acc << (to - bits)) & maxv) as u8);
        }
    } else if bits >= from || ((acc << (to - bits)) & maxv) != 0 {
        return None;
    }
    Some(out)
}

/// Python's `str.isupper()` / `str.islower()`: at least one cased character, all of one case.
fn py_isupper(text: &str) -> bool {
    text.chars().any(char::is_uppercase) && !text.chars().any(char::is_lowercase)
}

fn py_islower(text: &str) -> bool {
    text.chars().any(char::is_lowercase) && !text.chars().any(char::is_uppercase)
}

fn coin(name: &'static str, addr: &str) -> Option<(&'static str, String)> {
    Some((name, addr.to_owned()))
}

/// A base58check Bitcoin address (P2PKH `1...`, P2SH `3...`).
pub(crate) fn btc_base58(text: &str) -> Option<(&'static str, String)> {
    b58decode_check(text, BTC_ALPHABET)?;
    coin("btc", text)
}

/// A segwit v0-16 bech32 Bitcoin address (mainnet `bc`, testnet `tb`, regtest `bcrt`).
pub(crate) fn btc_bech32(text: &str) -> Option<(&'static str, String)> {
    let prefix = text.split('1').next().unwrap_or_default().to_lowercase();
    let (hrp, data) = bech32_decode(text, Some(90), usize::MAX)?;
    if hrp != prefix || data.is_empty() {
        return None;
    }
    let prog = convertbits(&data[1..], 5, 8, false)?;
    if prog.len() < 2 || prog.len() > 40 || data[0] > 16 {
        return None;
    }
    if data[0] == 0 && prog.len() != 20 && prog.len() != 32 {
        return None;
    }
    coin("btc", &text.to_lowercase())
}

fn eip55(body: &str) -> Option<String> {
    use sha3::Keccak256;
    let lower = body.to_lowercase();
    let hash = hex::encode(Keccak256::digest(lower.as_bytes()));
    let mut out = String::from("0x");
    for (c, h) in lower.chars().zip(hash.chars()) {
        match c {
            '0'..='9' => out.push(c),
            'a'..='f' => {
                if h.to_digit(16)? > 7 {
                    out.push(c.to_ascii_uppercase());
                } else {
                    out.push(c);
                }
            }
            _ => return None,
        }
    }
    Some(out)
}

/// An Ethereum address; mixed case must carry a valid EIP-55 checksum, single case is
/// returned checksummed.
pub(crate) fn eth(text: &str) -> Option<(&'static str, String)> {
    let body = text.get(2..)?;
    let ret = eip55(body)?;
    if !py_isupper(body) && !py_islower(body) {
        if ret != text {
            return None;
        }
        return coin("eth", text);
    }
    coin("eth", &ret)
}

fn cash_polymod(values: &[u8]) -> u64 {
    const GEN: [(u64, u64); 5] = [
        (0x01, 0x98f2bc8e61),
        (0x02, 0x79b76d99e2),
        (0x04, 0xf33e5fb3c4),
        (0x08, 0xae2eabe2a8),
        (0x10, 0x1e4f43e470),
    ];
    let mut chk: u64 = 1;
    for v in values {
        let top = chk >> 35;
        chk = ((chk & 0x07ffffffff) << 5) ^ u64::from(*v);
        for (bit, g) in GEN {
            if top & bit != 0 {
                chk ^= g;
            }
        }
    }
    chk ^ 1
}

/// A Bitcoin Cash cashaddr address (`bitcoincash:` or `bchtest:`).
pub(crate) fn bch(text: &str) -> Option<(&'static str, String)> {
    let (_, body) = text.split_once(':')?;
    if !py_isupper(body) && !py_islower(body) {
        return None;
    }
    if text.to_uppercase() != text && text.to_lowercase() != text {
        return None;
    }
    let lower = text.to_lowercase();
    let (prefix, b32) = lower.split_once(':')?;
    let mut decoded = Vec::new();
    for c in b32.chars() {
        decoded.push(BECH32_CHARSET.find(c)? as u8);
    }
    let mut values: Vec<u8> = prefix.bytes().map(|b| b & 0x1f).collect();
    values.push(0);
    values.extend(&decoded);
    if cash_polymod(&values) != 0 {
        return None;
    }
    let converted = convertbits(&decoded, 5, 8, true)?;
    if !matches!(converted.first(), Some(0) | Some(8)) {
        return None;
    }
    coin("bch", &lower)
}

/// An XRP classic address or X-address.
pub(crate) fn xrp(text: &str) -> Option<(&'static str, String)> {
    let classic = b58decode_check(text, XRP_ALPHABET).is_some_and(|d| d.first() == Some(&0));
    if classic || xrp_xaddress(text) {
        return coin("xrp", text);
    }
    None
}

fn xrp_xaddress(text: &str) -> bool {
    let Some(decoded) = b58decode_check(text, XRP_ALPHABET) else {
        return false;
    };
    if decoded.len() < 23 || !(decoded[..2] == [0x05, 0x44] || decoded[..2] == [0x04, 0x93]) {
        return false;
    }
    let buf = &decoded[22..];
    match buf[0] {
        0 => buf.get(1..9) == Some(&[0u8; 8][..]),
        // the reference reads four tag bytes (an IndexError when they are missing)
        1 => buf.len() >= 5,
        _ => false,
    }
}

fn ss58_valid(text: &str, format: u16) -> bool {
    use blake2::Blake2b512;
    let Some(dec) = b58decode(text, BTC_ALPHABET) else {
        return false;
    };
    if dec.len() < 2 {
        return false;
    }
    let (fmt_len, fmt) = if dec[0] & 0b0100_0000 != 0 {
        (
            2,
            (u16::from(dec[0] & 0b0011_1111) << 2)
                | u16::from(dec[1] >> 6)
                | (u16::from(dec[1] & 0b0011_1111) << 8),
        )
    } else {
        (1, u16::from(dec[0]))
    };
    if fmt == 46 || fmt == 47 || fmt != format {
        return false;
    }
    let n = dec.len();
    let cklen = match n {
        3 | 4 | 6 | 10 => 1,
        5 | 7 | 11 => 2,
        _ if n == 34 + fmt_len || n == 35 + fmt_len => 2,
        8 | 12 => 3,
        9 | 13 => 4,
        14 => 5,
        15 => 6,
        16 => 7,
        17 => 8,
        _ => return false,
    };
    let mut h = Blake2b512::new();
    h.update(b"SS58PRE");
    h.update(&dec[..n - cklen]);
    let sum = h.finalize();
    sum[..cklen] == dec[n - cklen..]
}

/// A Polkadot (`1...`, SS58 format 0) or Kusama (upper-case first letter, format 2) address.
pub(crate) fn substrate(text: &str) -> Option<(&'static str, String)> {
    let first = text.chars().next()?;
    if first == '1' && ss58_valid(text, 0) {
        return coin("dot", text);
    }
    if first.is_uppercase() && ss58_valid(text, 2) {
        return coin("ksm", text);
    }
    None
}

/// A CBOR head: (major type, argument, bytes used).
fn cbor_head(data: &[u8]) -> Option<(u8, u64, usize)> {
    let first = *data.first()?;
    let major = first >> 5;
    let info = first & 0x1f;
    let (arg, used) = match info {
        0..=23 => (u64::from(info), 1),
        24 => (u64::from(*data.get(1)?), 2),
        25 => (
            u64::from(u16::from_be_bytes(data.get(1..3)?.try_into().ok()?)),
            3,
        ),
        26 => (
            u64::from(u32::from_be_bytes(data.get(1..5)?.try_into().ok()?)),
            5,
        ),
        27 => (u64::from_be_bytes(data.get(1..9)?.try_into().ok()?), 9),
        _ => return None,
    };
    Some((major, arg, used))
}

/// A Cardano Byron address: base58 of the CBOR `[tag(bytes), crc32(bytes)]`.
pub(crate) fn cardano_byron(text: &str) -> Option<(&'static str, String)> {
    let data = b58decode(text, BTC_ALPHABET)?;
    let (major, len, mut pos) = cbor_head(&data)?;
    if major != 4 || len != 2 {
        return None;
    }
    let (major, _, used) = cbor_head(data.get(pos..)?)?;
    if major != 6 {
        return None;
    }
    pos += used;
    let (major, blen, used) = cbor_head(data.get(pos..)?)?;
    if major != 2 {
        return None;
    }
    pos += used;
    let end = pos.checked_add(usize::try_from(blen).ok()?)?;
    let payload = data.get(pos..end)?;
    let (major, csum, _) = cbor_head(data.get(end..)?)?;
    if major != 0 {
        return None;
    }
    (u64::from(crc32fast::hash(payload)) == csum).then(|| coin("ada", text))?
}

/// A Cardano Shelley address (bech32 `addr1...`).
pub(crate) fn cardano_shelley(text: &str) -> Option<(&'static str, String)> {
    bech32_decode(text, None, 83)?;
    coin("ada", text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_addresses() {
        assert_eq!(
            btc_base58("1BoatSLRHtKNngkdXEeobR76b53LETtpyT").map(|v| v.0),
            Some("btc")
        );
        assert_eq!(btc_base58("1BoatSLRHtKNngkdXEeobR76b53LETtpyU"), None);
        assert_eq!(
            btc_bech32("BC1QAR0SRRR7XFKVY5L643LYDNW9RE59GTZZWF5MDQ"),
            Some(("btc", "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq".into()))
        );
        assert_eq!(
            eth("0x52908400098527886e0f7030069857d2e4169ee7"),
            Some(("eth", "0x52908400098527886E0F7030069857D2E4169EE7".into()))
        );
        assert_eq!(eth("0x52908400098527886E0F7030069857D2E4169Ee7"), None);
    }
}
