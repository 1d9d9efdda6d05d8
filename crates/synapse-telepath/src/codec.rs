//! The msgpack codec, with the reference's value mapping, and the streaming frame decoder.
//!
//! Encoding follows Synapse's packer exactly: the smallest int form, non-negative ints always in
//! the unsigned family, floats always as float64, `str` and `bin` kept apart, and ints beyond
//! 64 bits as ext type 0 (unsigned magnitude) or ext type 1 (two's complement).
//!
//! Decoding is bounded: container lengths are checked against the bytes that are really there
//! before anything is allocated, nesting is limited to [`MAX_DEPTH`], and ext codes other than
//! 0 and 1 are refused (as the reference's unpacker does). Ints carried in ext 0/1 that fit in
//! 64 bits are normalized to plain ints, so equal numbers compare equal.

use rmpv::{Integer, Value};

/// The largest message the reference's unpacker accepts (`max_buffer_size = 2**32 - 1`), and
/// the default limit of [`FrameDecoder`].
pub const DEFAULT_MAX_MESSAGE: usize = 0xffff_ffff;

/// How deeply arrays and maps may nest in a decoded value.
pub const MAX_DEPTH: usize = 1024;

/// Why bytes could not be encoded or decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// The bytes end in the middle of a value.
    #[error("truncated msgpack value")]
    Truncated,
    /// [`decode`] found bytes after the value.
    #[error("{0} trailing bytes after the msgpack value")]
    Trailing(usize),
    /// The reserved marker byte `0xc1`.
    #[error("invalid msgpack marker byte 0x{0:02x}")]
    BadMarker(u8),
    /// An ext type other than 0 and 1 (the reference refuses them too).
    #[error("Invalid msgpack ext code: {0}")]
    BadExt(i8),
    /// A message larger than the configured limit.
    #[error("message of at least {size} bytes is larger than the limit of {max} bytes")]
    TooLarge {
        /// The size the message has reached (or announced).
        size: u64,
        /// The configured limit.
        max: usize,
    },
    /// Arrays and maps nested deeper than [`MAX_DEPTH`].
    #[error("msgpack value nested deeper than {0}")]
    TooDeep(usize),
    /// A str, bin, array, map or ext longer than msgpack can express (2**32-1).
    #[error("value too long for msgpack: {0}")]
    TooLong(usize),
}

/// Encode a value into a new buffer.
pub fn encode(value: &Value) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::with_capacity(64);
    encode_into(value, &mut out)?;
    Ok(out)
}

/// Encode a value at the end of `out`. On error `out` may hold part of the value.
pub fn encode_into(value: &Value, out: &mut Vec<u8>) -> Result<(), CodecError> {
    match value {
        Value::Nil => out.push(0xc0),
        Value::Boolean(false) => out.push(0xc2),
        Value::Boolean(true) => out.push(0xc3),
        Value::Integer(int) => encode_int(*int, out),
        Value::F32(num) => encode_f64(f64::from(*num), out),
        Value::F64(num) => encode_f64(*num, out),
        Value::String(text) => encode_str_bytes(text.as_bytes(), out)?,
        Value::Binary(bytes) => {
            let len = bytes.len();
            match len {
                0..=0xff => out.extend_from_slice(&[0xc4, len as u8]),
                0x100..=0xffff => {
                    out.push(0xc5);
                    out.extend_from_slice(&(len as u16).to_be_bytes());
                }
                _ => {
                    out.push(0xc6);
                    out.extend_from_slice(&len32(len)?.to_be_bytes());
                }
            }
            out.extend_from_slice(bytes);
        }
        Value::Array(items) => {
            encode_array_header(items.len(), out)?;
            for item in items {
                encode_item(item, out)?;
            }
        }
        Value::Map(pairs) => {
            encode_map_header(pairs.len(), out)?;
            for (key, val) in pairs {
                encode_item(key, out)?;
                encode_item(val, out)?;
            }
        }
        Value::Ext(code, bytes) => {
            let len = bytes.len();
            let code = *code as u8;
            match len {
                1 => out.extend_from_slice(&[0xd4, code]),
                2 => out.extend_from_slice(&[0xd5, code]),
                4 => out.extend_from_slice(&[0xd6, code]),
                8 => out.extend_from_slice(&[0xd7, code]),
                16 => out.extend_from_slice(&[0xd8, code]),
                0..=0xff => out.extend_from_slice(&[0xc7, len as u8, code]),
                0x100..=0xffff => {
                    out.push(0xc8);
                    out.extend_from_slice(&(len as u16).to_be_bytes());
                    out.push(code);
                }
                _ => {
                    out.push(0xc9);
                    out.extend_from_slice(&len32(len)?.to_be_bytes());
                    out.push(code);
                }
            }
            out.extend_from_slice(bytes);
        }
    }
    Ok(())
}

/// Bin payloads of at least this many bytes are kept out of a [`Spliced`] buffer.
pub const SPLICE_MIN: usize = 64 * 1024;

/// An encoded message whose large bin payloads are kept apart from the other bytes, so that
/// it is sent with vectored writes instead of copying the payloads ([`encode_taking`]).
#[derive(Debug, Default)]
pub struct Spliced {
    /// The encoded bytes, less the large payloads.
    pub head: Vec<u8>,
    /// The large payloads, each with the offset in `head` where it belongs, in order.
    pub parts: Vec<(usize, Vec<u8>)>,
    /// Where the first bytes go while the rest is encoded (see [`Spliced::send_early_to`]).
    early: Option<Early>,
}

/// The socket a [`Spliced`] message's first bytes are sent to while it is encoded.
#[derive(Debug)]
struct Early {
    fd: i32,
    /// Bytes of `head` sent so far.
    sent: usize,
    /// Send more once `head` holds this many bytes.
    next: usize,
}

/// How many bytes an early send waits for (the first, and each after it).
const EARLY_CHUNK: usize = 16 * 1024;

impl Spliced {
    /// Empty it, keeping the head's buffer (and forgetting any early sending).
    pub fn clear(&mut self) {
        self.head.clear();
        self.parts.clear();
        self.early = None;
    }

    /// Send the message's first bytes to the stream socket `fd` while the rest is encoded,
    /// once a large container's items have filled [`EARLY_CHUNK`] more bytes each time: the
    /// peer reads and checks the first items while the last are encoded. Sends never block
    /// (what the socket does not take waits for the final write) and stop at the first
    /// large payload. The caller writes only what [`Spliced::sent_early`] leaves, and must
    /// close the socket if encoding fails after some bytes went (the peer holds part of a
    /// message). `fd` must stay open until the message is written.
    pub(crate) fn send_early_to(&mut self, fd: i32) {
        self.early = Some(Early {
            fd,
            sent: 0,
            next: self.head.len() + EARLY_CHUNK,
        });
    }

    /// How many bytes of `head` were sent early.
    pub(crate) fn sent_early(&self) -> usize {
        self.early.as_ref().map_or(0, |early| early.sent)
    }

    /// Send what is encoded so far if enough is waiting (called between a container's items).
    #[inline(always)]
    fn maybe_send_early(&mut self) {
        if let Some(early) = &self.early
            && self.head.len() >= early.next
        {
            self.send_early();
        }
    }

    #[cold]
    fn send_early(&mut self) {
        let Some(early) = self.early.as_mut() else {
            return;
        };
        if !self.parts.is_empty() {
            // What was sent stays counted; nothing more goes early.
            early.next = usize::MAX;
            return;
        }
        let rest = &self.head[early.sent..];
        #[allow(unsafe_code)]
        // SAFETY: `rest` is live, initialised memory of `rest.len()` bytes, and the caller of
        // `send_early_to` keeps `fd` open until the message is written.
        let sent = unsafe {
            libc::send(
                early.fd,
                rest.as_ptr().cast::<libc::c_void>(),
                rest.len(),
                libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
            )
        };
        match usize::try_from(sent) {
            Ok(sent) => {
                early.sent += sent;
                early.next = self.head.len() + EARLY_CHUNK;
            }
            // Full (try again later) or failed (the final write reports it).
            Err(_) if std::io::Error::last_os_error().kind() == std::io::ErrorKind::WouldBlock => {
                early.next = self.head.len() + EARLY_CHUNK;
            }
            Err(_) => early.next = usize::MAX,
        }
    }

    /// The encoded length.
    pub fn len(&self) -> usize {
        self.head.len() + self.parts.iter().map(|(_, part)| part.len()).sum::<usize>()
    }

    /// True when nothing is encoded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The encoded bytes in one buffer (a copy).
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len());
        let mut done = 0;
        for (at, part) in &self.parts {
            out.extend_from_slice(&self.head[done..*at]);
            out.extend_from_slice(part);
            done = *at;
        }
        out.extend_from_slice(&self.head[done..]);
        out
    }
}

/// One element of a container for [`encode_into`]: the common leaves inlined in the
/// container's loop (see [`encode_taking_item`]).
#[inline(always)]
fn encode_item(value: &Value, out: &mut Vec<u8>) -> Result<(), CodecError> {
    match value {
        Value::String(text) => encode_str_bytes(text.as_bytes(), out),
        Value::Integer(int) => {
            encode_int(*int, out);
            Ok(())
        }
        Value::Boolean(flag) => {
            out.push(0xc2 | u8::from(*flag));
            Ok(())
        }
        Value::Nil => {
            out.push(0xc0);
            Ok(())
        }
        other => encode_into(other, out),
    }
}

/// Encode a value at the end of `out` as [`encode_into`] does, *moving* the payloads of bins
/// of [`SPLICE_MIN`] bytes or more out of the value into `out.parts` (they are left empty in
/// `value`). On error `out` may hold part of the value.
pub fn encode_taking(value: &mut Value, out: &mut Spliced) -> Result<(), CodecError> {
    match value {
        Value::Array(items) => {
            encode_array_header(items.len(), &mut out.head)?;
            for item in items {
                encode_taking_item(item, out)?;
                out.maybe_send_early();
            }
        }
        Value::Map(pairs) => {
            encode_map_header(pairs.len(), &mut out.head)?;
            for (key, val) in pairs {
                encode_taking_item(key, out)?;
                encode_taking_item(val, out)?;
            }
        }
        Value::Binary(bytes) if bytes.len() >= SPLICE_MIN => {
            let len = len32(bytes.len())?;
            out.head.push(0xc6);
            out.head.extend_from_slice(&len.to_be_bytes());
            out.parts.push((out.head.len(), std::mem::take(bytes)));
        }
        other => encode_into(other, &mut out.head)?,
    }
    Ok(())
}

/// One element of a container for [`encode_taking`]: the common leaves are encoded here,
/// inlined in the container's loop (a call per element costs as much as encoding it).
#[inline(always)]
fn encode_taking_item(value: &mut Value, out: &mut Spliced) -> Result<(), CodecError> {
    match value {
        Value::String(text) => encode_str_bytes(text.as_bytes(), &mut out.head),
        Value::Integer(int) => {
            encode_int(*int, &mut out.head);
            Ok(())
        }
        Value::Boolean(flag) => {
            out.head.push(0xc2 | u8::from(*flag));
            Ok(())
        }
        Value::Nil => {
            out.head.push(0xc0);
            Ok(())
        }
        other => encode_taking(other, out),
    }
}

/// Write the header of an array of `len` items (the items follow it).
pub fn encode_array_header(len: usize, out: &mut Vec<u8>) -> Result<(), CodecError> {
    match len {
        0..=15 => out.push(0x90 | len as u8),
        16..=0xffff => {
            out.push(0xdc);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            out.push(0xdd);
            out.extend_from_slice(&len32(len)?.to_be_bytes());
        }
    }
    Ok(())
}

/// Write the header of a map of `len` pairs (the keys and values follow it, alternating).
pub fn encode_map_header(len: usize, out: &mut Vec<u8>) -> Result<(), CodecError> {
    match len {
        0..=15 => out.push(0x80 | len as u8),
        16..=0xffff => {
            out.push(0xde);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            out.push(0xdf);
            out.extend_from_slice(&len32(len)?.to_be_bytes());
        }
    }
    Ok(())
}

/// Encode `text` as a msgpack str at the end of `out` (as `encode_into(&Value::from(text))`
/// does, without building the value).
pub fn encode_str(text: &str, out: &mut Vec<u8>) -> Result<(), CodecError> {
    encode_str_bytes(text.as_bytes(), out)
}

#[inline(always)]
fn encode_str_bytes(bytes: &[u8], out: &mut Vec<u8>) -> Result<(), CodecError> {
    let len = bytes.len();
    if len < 32 {
        // (the usual short str: one capacity check for the marker and the bytes)
        out.reserve(32);
        out.push(0xa0 | len as u8);
        out.extend_from_slice(bytes);
        Ok(())
    } else {
        encode_long_str(bytes, out)
    }
}

fn encode_long_str(bytes: &[u8], out: &mut Vec<u8>) -> Result<(), CodecError> {
    let len = bytes.len();
    match len {
        0..=0xff => out.extend_from_slice(&[0xd9, len as u8]),
        0x100..=0xffff => {
            out.push(0xda);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            out.push(0xdb);
            out.extend_from_slice(&len32(len)?.to_be_bytes());
        }
    }
    out.extend_from_slice(bytes);
    Ok(())
}

fn len32(len: usize) -> Result<u32, CodecError> {
    u32::try_from(len).map_err(|_| CodecError::TooLong(len))
}

fn encode_f64(num: f64, out: &mut Vec<u8>) {
    out.push(0xcb);
    out.extend_from_slice(&num.to_be_bytes());
}

#[inline(always)]
fn encode_int(int: Integer, out: &mut Vec<u8>) {
    if let Some(num) = int.as_u64() {
        match num {
            0..=0x7f => out.push(num as u8),
            0x80..=0xff => out.extend_from_slice(&[0xcc, num as u8]),
            0x100..=0xffff => {
                out.push(0xcd);
                out.extend_from_slice(&(num as u16).to_be_bytes());
            }
            0x1_0000..=0xffff_ffff => {
                out.push(0xce);
                out.extend_from_slice(&(num as u32).to_be_bytes());
            }
            _ => {
                out.push(0xcf);
                out.extend_from_slice(&num.to_be_bytes());
            }
        }
        return;
    }
    // Not representable as u64, so negative.
    let num = int.as_i64().unwrap_or(i64::MIN);
    if num >= -32 {
        out.push(num as i8 as u8);
    } else if num >= i64::from(i8::MIN) {
        out.extend_from_slice(&[0xd0, num as i8 as u8]);
    } else if num >= i64::from(i16::MIN) {
        out.push(0xd1);
        out.extend_from_slice(&(num as i16).to_be_bytes());
    } else if num >= i64::from(i32::MIN) {
        out.push(0xd2);
        out.extend_from_slice(&(num as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&num.to_be_bytes());
    }
}

/// Decode exactly one value from `bytes`; trailing bytes are an error.
pub fn decode(bytes: &[u8]) -> Result<Value, CodecError> {
    let (value, used) = decode_prefix(bytes)?;
    if used != bytes.len() {
        return Err(CodecError::Trailing(bytes.len() - used));
    }
    Ok(value)
}

/// Decode the first value in `bytes`: the value and how many bytes it used.
pub fn decode_prefix(bytes: &[u8]) -> Result<(Value, usize), CodecError> {
    let mut reader = Reader {
        bytes,
        pos: 0,
        detached: Vec::new(),
        next_detached: 0,
    };
    let value = reader.value()?;
    Ok((value, reader.pos))
}

enum Item {
    Scalar(Value),
    Array(usize),
    Map(usize),
}

enum Open {
    Array(Vec<Value>, usize),
    Map(Vec<(Value, Value)>, Option<Value>, usize),
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    /// The payloads of large bins that the frame decoder received into their own buffers
    /// (they are absent from `bytes`), in order.
    detached: Vec<Detached>,
    next_detached: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize) -> Result<&'a [u8], CodecError> {
        let end = self.pos.checked_add(len).ok_or(CodecError::Truncated)?;
        let out = self.bytes.get(self.pos..end).ok_or(CodecError::Truncated)?;
        self.pos = end;
        Ok(out)
    }

    fn byte(&mut self) -> Result<u8, CodecError> {
        Ok(self.take(1)?[0])
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], CodecError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn len8(&mut self) -> Result<usize, CodecError> {
        Ok(usize::from(self.byte()?))
    }

    fn len16(&mut self) -> Result<usize, CodecError> {
        Ok(usize::from(u16::from_be_bytes(self.array()?)))
    }

    fn len32(&mut self) -> Result<usize, CodecError> {
        Ok(u32::from_be_bytes(self.array()?) as usize)
    }

    fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    /// Decode one value without recursion (nesting is bounded by [`MAX_DEPTH`], and the
    /// stack lives on the heap).
    fn value(&mut self) -> Result<Value, CodecError> {
        let mut stack: Vec<Open> = Vec::new();
        loop {
            let mut value = match self.item()? {
                Item::Scalar(value) => value,
                Item::Array(0) => Value::Array(Vec::new()),
                Item::Map(0) => Value::Map(Vec::new()),
                Item::Array(len) => {
                    // Every element takes at least one byte: never allocate for more.
                    if len > self.remaining() {
                        return Err(CodecError::Truncated);
                    }
                    if stack.len() >= MAX_DEPTH {
                        return Err(CodecError::TooDeep(MAX_DEPTH));
                    }
                    stack.push(Open::Array(Vec::with_capacity(len), len));
                    continue;
                }
                Item::Map(len) => {
                    if len.saturating_mul(2) > self.remaining() {
                        return Err(CodecError::Truncated);
                    }
                    if stack.len() >= MAX_DEPTH {
                        return Err(CodecError::TooDeep(MAX_DEPTH));
                    }
                    stack.push(Open::Map(Vec::with_capacity(len), None, len));
                    continue;
                }
            };
            // Attach the finished value to its parents, closing those that are complete.
            loop {
                match stack.last_mut() {
                    None => return Ok(value),
                    Some(Open::Array(items, len)) => {
                        items.push(value);
                        if items.len() < *len {
                            break;
                        }
                        let Some(Open::Array(items, _)) = stack.pop() else {
                            return Err(CodecError::Truncated);
                        };
                        value = Value::Array(items);
                    }
                    Some(Open::Map(pairs, key, len)) => {
                        match key.take() {
                            None => {
                                *key = Some(value);
                                break;
                            }
                            Some(key) => pairs.push((key, value)),
                        }
                        if pairs.len() < *len {
                            break;
                        }
                        let Some(Open::Map(pairs, _, _)) = stack.pop() else {
                            return Err(CodecError::Truncated);
                        };
                        value = Value::Map(pairs);
                    }
                }
            }
        }
    }

    fn item(&mut self) -> Result<Item, CodecError> {
        let marker = self.byte()?;
        let value = match marker {
            0x00..=0x7f => Value::from(marker),
            0x80..=0x8f => return Ok(Item::Map(usize::from(marker & 0x0f))),
            0x90..=0x9f => return Ok(Item::Array(usize::from(marker & 0x0f))),
            0xa0..=0xbf => self.text(usize::from(marker & 0x1f))?,
            0xc0 => Value::Nil,
            0xc1 => return Err(CodecError::BadMarker(marker)),
            0xc2 => Value::Boolean(false),
            0xc3 => Value::Boolean(true),
            0xc4 => {
                let len = self.len8()?;
                self.bin(len)?
            }
            0xc5 => {
                let len = self.len16()?;
                self.bin(len)?
            }
            0xc6 => {
                let len = self.len32()?;
                self.bin(len)?
            }
            0xc7 => {
                let len = self.len8()?;
                self.ext(len)?
            }
            0xc8 => {
                let len = self.len16()?;
                self.ext(len)?
            }
            0xc9 => {
                let len = self.len32()?;
                self.ext(len)?
            }
            0xca => Value::F32(f32::from_be_bytes(self.array()?)),
            0xcb => Value::F64(f64::from_be_bytes(self.array()?)),
            0xcc => Value::from(self.byte()?),
            0xcd => Value::from(u16::from_be_bytes(self.array()?)),
            0xce => Value::from(u32::from_be_bytes(self.array()?)),
            0xcf => Value::from(u64::from_be_bytes(self.array()?)),
            0xd0 => Value::from(i8::from_be_bytes(self.array()?)),
            0xd1 => Value::from(i16::from_be_bytes(self.array()?)),
            0xd2 => Value::from(i32::from_be_bytes(self.array()?)),
            0xd3 => Value::from(i64::from_be_bytes(self.array()?)),
            0xd4 => self.ext(1)?,
            0xd5 => self.ext(2)?,
            0xd6 => self.ext(4)?,
            0xd7 => self.ext(8)?,
            0xd8 => self.ext(16)?,
            0xd9 => {
                let len = self.len8()?;
                self.text(len)?
            }
            0xda => {
                let len = self.len16()?;
                self.text(len)?
            }
            0xdb => {
                let len = self.len32()?;
                self.text(len)?
            }
            0xdc => {
                let len = self.len16()?;
                return Ok(Item::Array(len));
            }
            0xdd => {
                let len = self.len32()?;
                return Ok(Item::Array(len));
            }
            0xde => {
                let len = self.len16()?;
                return Ok(Item::Map(len));
            }
            0xdf => {
                let len = self.len32()?;
                return Ok(Item::Map(len));
            }
            0xe0..=0xff => Value::from(marker as i8),
        };
        Ok(Item::Scalar(value))
    }

    /// A bin payload: its own buffer when the frame decoder detached it, else a copy.
    fn bin(&mut self, len: usize) -> Result<Value, CodecError> {
        if let Some(det) = self.detached.get_mut(self.next_detached)
            && det.at == self.pos
        {
            self.next_detached += 1;
            if det.data.len() != len {
                return Err(CodecError::Truncated);
            }
            return Ok(Value::Binary(std::mem::take(&mut det.data)));
        }
        Ok(Value::Binary(self.take(len)?.to_vec()))
    }

    fn text(&mut self, len: usize) -> Result<Value, CodecError> {
        let bytes = self.take(len)?;
        match std::str::from_utf8(bytes) {
            Ok(text) => Ok(Value::from(text)),
            Err(_) => Ok(invalid_utf8_str(bytes)),
        }
    }

    fn ext(&mut self, len: usize) -> Result<Value, CodecError> {
        let code = self.byte()? as i8;
        let bytes = self.take(len)?;
        match code {
            0 => Ok(bigint_from_magnitude(bytes)),
            1 => Ok(bigint_from_twos(bytes)),
            _ => Err(CodecError::BadExt(code)),
        }
    }
}

/// A str value holding bytes that are not valid UTF-8 (the reference's `surrogatepass` lets
/// lone surrogates through). rmpv only builds such strings while decoding, so decode a str32.
fn invalid_utf8_str(bytes: &[u8]) -> Value {
    let mut buf = Vec::with_capacity(bytes.len() + 5);
    buf.push(0xdb);
    buf.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    buf.extend_from_slice(bytes);
    rmpv::decode::read_value(&mut buf.as_slice())
        .unwrap_or_else(|_| Value::from(String::from_utf8_lossy(bytes).into_owned()))
}

/// An int from ext 0's unsigned big-endian magnitude: a plain int when it fits in 64 bits, else
/// the canonical ext 0 form (no leading zero bytes).
fn bigint_from_magnitude(bytes: &[u8]) -> Value {
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    let digits = &bytes[first..];
    if digits.len() <= 8 {
        let mut word = [0u8; 8];
        word[8 - digits.len()..].copy_from_slice(digits);
        return Value::from(u64::from_be_bytes(word));
    }
    Value::Ext(0, digits.to_vec())
}

/// An int from ext 1's big-endian two's complement: a plain int when it fits in 64 bits,
/// else the canonical form the reference's packer writes.
fn bigint_from_twos(bytes: &[u8]) -> Value {
    let Some(&lead) = bytes.first() else {
        return Value::from(0u8);
    };
    if lead & 0x80 == 0 {
        return bigint_from_magnitude(bytes);
    }
    // Negative: drop redundant leading 0xff bytes (keeping the sign bit set).
    let mut start = 0;
    while start + 1 < bytes.len() && bytes[start] == 0xff && bytes[start + 1] & 0x80 != 0 {
        start += 1;
    }
    let digits = &bytes[start..];
    if digits.len() <= 8 {
        let mut word = [0xffu8; 8];
        word[8 - digits.len()..].copy_from_slice(digits);
        return Value::from(i64::from_be_bytes(word));
    }
    // The reference writes (bit_length // 8) + 1 bytes, which is one more than the minimal
    // two's complement length exactly when the magnitude is a power of 256 times 2**7
    // (e.g. -2**71). Compute bit_length of the magnitude to match it.
    let want = (negative_bit_length(digits) / 8) + 1;
    let mut out = vec![0xffu8; want.saturating_sub(digits.len())];
    out.extend_from_slice(digits);
    Value::Ext(1, out)
}

/// `(-x).bit_length()` for a negative number in minimal big-endian two's complement.
fn negative_bit_length(digits: &[u8]) -> usize {
    // magnitude = !x + 1
    let mut mag: Vec<u8> = digits.iter().map(|b| !b).collect();
    for byte in mag.iter_mut().rev() {
        let (sum, carry) = byte.overflowing_add(1);
        *byte = sum;
        if !carry {
            break;
        }
    }
    let first = mag.iter().position(|b| *b != 0).unwrap_or(mag.len());
    match mag.get(first) {
        None => 0,
        Some(top) => (mag.len() - first - 1) * 8 + (8 - top.leading_zeros() as usize),
    }
}

/// A whole message as [`FrameDecoder::next_frame_with`] hands it over.
#[derive(Debug)]
pub enum Frame<'a> {
    /// The message's bytes (one complete msgpack value, checked only for its framing).
    Bytes(&'a [u8]),
    /// The message, decoded (when some of its large bins were received into buffers of
    /// their own, so that its bytes are not in one piece).
    Decoded(Value),
    /// The message's bytes, as [`Frame::Bytes`], with what was walked of a call's arguments
    /// while it arrived (decoders set to [`FrameDecoder::walk_calls`]).
    Call(&'a [u8], crate::raw::Prewalk),
}

impl Frame<'_> {
    /// The message, decoded.
    pub fn decode(self) -> Result<Value, CodecError> {
        match self {
            Frame::Bytes(bytes) | Frame::Call(bytes, _) => decode(bytes),
            Frame::Decoded(value) => Ok(value),
        }
    }
}

/// Cuts whole msgpack values out of a byte stream (telepath has no other framing).
///
/// Feed bytes with [`FrameDecoder::feed`] (or read straight into [`FrameDecoder::read_buf`]),
/// then take values with [`FrameDecoder::next_message`]. Completeness is checked by a resumable scan
/// that never rescans bytes it has already accepted, so a large message arriving in many small
/// reads costs linear time. A message is refused as soon as it reaches, or announces, a size
/// larger than the limit; after an error the decoder is poisoned (the link must be closed).
///
/// Large bin values still arriving are *detached*: their payload is received into a buffer of
/// its own (see [`FrameDecoder::read_target`]), which becomes the decoded `Value::Binary`
/// without another copy.
#[derive(Debug)]
pub struct FrameDecoder {
    buf: Vec<u8>,
    start: usize,
    max: usize,
    scan: Scan,
    failed: Option<CodecError>,
    /// Detached bin payloads of the current message, in order; the last may be filling.
    detached: Vec<Detached>,
    /// Bins of at least this many bytes are detached.
    detach_min: usize,
    /// What is walked of a call's arguments while its message arrives (see
    /// [`FrameDecoder::walk_calls`]).
    prewalk: Option<crate::raw::Prewalk>,
}

/// A bin payload received outside the frame buffer.
#[derive(Debug)]
struct Detached {
    /// Where the payload would start in the frame buffer (relative to the message start).
    at: usize,
    /// The payload received so far.
    data: Vec<u8>,
    /// The payload's full length.
    len: usize,
}

impl Detached {
    fn missing(&self) -> usize {
        self.len - self.data.len()
    }
}

#[derive(Debug, Default)]
struct Scan {
    /// Bytes of the current message accepted so far (in the frame buffer).
    pos: usize,
    /// Elements still expected by each open container; empty between messages.
    stack: Vec<u64>,
    /// The sum of `stack`: elements still expected, each at least one byte.
    total: u64,
    /// How many more bytes the scan is known to need to make progress.
    want: usize,
    /// Bytes of the current message held in detached payloads.
    detached: u64,
}

enum Step {
    Done(usize),
    More,
}

/// Where the next bytes read from the stream go ([`FrameDecoder::read_target`]): append at
/// most `limit` bytes to `buf`.
#[derive(Debug)]
pub struct ReadTarget<'a> {
    /// The buffer to append to.
    pub buf: &'a mut Vec<u8>,
    /// The most bytes to append in one read (never past the end of a detached payload).
    pub limit: usize,
}

const READ_CHUNK: usize = 64 * 1024;
const KEEP_CAPACITY: usize = 1024 * 1024;
/// The default threshold of detached bins.
const DETACH_MIN: usize = 256 * 1024;
/// Detached payloads up to this size are allocated whole; larger ones grow as bytes arrive
/// (a peer announcing a huge value does not reserve memory it never sends).
const DETACH_ALLOC: usize = 64 * 1024 * 1024;
/// The largest single read into the frame buffer.
const MAX_READ: usize = 16 * 1024 * 1024;

/// The scan's common case, with its state in registers: elements whose marker tells their
/// whole length (a scalar, a short string, a fixext) and short arrays and maps, all of whose
/// bytes are in `avail`, while the message stays within `limit` bytes (each pending element
/// counted as one) and the nesting within [`MAX_DEPTH`]. Stops at the first other element,
/// leaving it to the general path; returns the message's length once its last element is
/// accepted.
#[inline]
fn scan_fast(scan: &mut Scan, avail: &[u8], limit: u64) -> Option<usize> {
    // Elements still expected by the innermost open container (kept out of the stack).
    let mut top = scan.stack.pop()?;
    let mut pos = scan.pos;
    let mut total = scan.total;
    let done = 'scan: loop {
        let Some(&marker) = avail.get(pos) else {
            break None;
        };
        let fixed = usize::from(SCAN_FIXED[usize::from(marker)]);
        let kids = match marker {
            0x81..=0x8f => u64::from(marker & 0x0f) * 2,
            0x91..=0x9f => u64::from(marker & 0x0f),
            _ => 0,
        };
        if fixed == 0 && kids == 0 {
            break None;
        }
        let end = pos + fixed.max(1);
        let pending = total - 1 + kids;
        // (`top` is off the stack: the stack's depth is one more than its length)
        if end > avail.len() || end as u64 + pending > limit || scan.stack.len() >= MAX_DEPTH {
            break None;
        }
        pos = end;
        total = pending;
        top -= 1;
        if kids > 0 {
            scan.stack.push(top);
            top = kids;
            continue;
        }
        while top == 0 {
            match scan.stack.pop() {
                Some(outer) => top = outer,
                None => break 'scan Some(pos),
            }
        }
    };
    scan.pos = pos;
    scan.total = total;
    if done.is_none() {
        scan.stack.push(top);
    }
    done
}

/// The length of each element whose marker tells its whole length (a scalar, a short string,
/// a fixext, an empty short array or map), 0 for the others: the scan's common case.
const SCAN_FIXED: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut marker = 0;
    while marker < 256 {
        table[marker] = match marker as u8 {
            0x00..=0x7f | 0x80 | 0x90 | 0xc0 | 0xc2 | 0xc3 | 0xe0..=0xff => 1,
            0xa0..=0xbf => 1 + (marker as u8 & 0x1f),
            0xcc | 0xd0 => 2,
            0xcd | 0xd1 => 3,
            0xca | 0xce | 0xd2 => 5,
            0xcb | 0xcf | 0xd3 => 9,
            0xd4 => 3,
            0xd5 => 4,
            0xd6 => 6,
            0xd7 => 10,
            0xd8 => 18,
            _ => 0,
        };
        marker += 1;
    }
    table
};

impl Default for FrameDecoder {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_MESSAGE)
    }
}

impl FrameDecoder {
    /// A decoder refusing messages larger than `max_message` bytes.
    pub fn new(max_message: usize) -> Self {
        Self {
            buf: Vec::new(),
            start: 0,
            max: max_message.max(1),
            scan: Scan::default(),
            failed: None,
            detached: Vec::new(),
            detach_min: DETACH_MIN,
            prewalk: None,
        }
    }

    /// Walk the items of a `t2:init` call's long list argument while the rest of its
    /// message is still arriving (see [`crate::raw::Prewalk`]), and hand them over with the
    /// message ([`Frame::Call`]): for a server, whose reading would otherwise start walking
    /// them only once the last byte is in.
    pub fn walk_calls(&mut self) {
        self.prewalk = Some(crate::raw::Prewalk::default());
    }

    /// Detach bins of at least `min` bytes (tests exercise the path with small values).
    pub(crate) fn set_detach_min(&mut self, min: usize) {
        self.detach_min = min.max(1);
    }

    /// The configured message size limit.
    pub fn max_message(&self) -> usize {
        self.max
    }

    /// Append received bytes.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.compact();
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes received but not yet returned as messages.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start + self.detached.iter().map(|d| d.data.len()).sum::<usize>()
    }

    /// True when part of a message has been received.
    pub fn in_message(&self) -> bool {
        self.buffered() > 0 || !self.detached.is_empty()
    }

    /// The buffer to read more bytes into (append only), with room reserved for the next read.
    /// Bytes appended here while a payload is detached are moved into it (a copy):
    /// [`FrameDecoder::read_target`] avoids that.
    pub fn read_buf(&mut self) -> &mut Vec<u8> {
        self.compact();
        let want = self.scan.want.clamp(READ_CHUNK, MAX_READ);
        if self.buf.capacity() - self.buf.len() < want / 2 {
            self.buf.reserve(want);
        }
        &mut self.buf
    }

    /// Where to read the next bytes: into the detached payload being received (never past
    /// its end), else into the frame buffer (at most what the scan is known to need, and at
    /// least a read chunk).
    pub fn read_target(&mut self) -> ReadTarget<'_> {
        self.absorb();
        let filling = self.detached.last().is_some_and(|det| det.missing() > 0);
        if filling {
            let last = self.detached.len() - 1;
            let det = &mut self.detached[last];
            let limit = det.missing();
            if det.data.capacity() == det.data.len() {
                det.data
                    .reserve_exact(limit.min(DETACH_ALLOC.max(det.data.len())));
            }
            return ReadTarget {
                buf: &mut det.data,
                limit,
            };
        }
        let limit = self.scan.want.clamp(READ_CHUNK, MAX_READ);
        ReadTarget {
            buf: self.read_buf(),
            limit,
        }
    }

    fn compact(&mut self) {
        if self.start == 0 {
            return;
        }
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
            if self.buf.capacity() > KEEP_CAPACITY {
                self.buf = Vec::new();
            }
        } else if self.start >= READ_CHUNK || self.start * 2 >= self.buf.len() {
            self.buf.drain(..self.start);
            self.start = 0;
        }
    }

    /// The next whole message, `None` if more bytes are needed.
    pub fn next_message(&mut self) -> Result<Option<Value>, CodecError> {
        self.next_frame_with(|frame: Frame<'_>| frame.decode())
    }

    /// The next whole message as `parse` makes it from the message's bytes (one complete
    /// msgpack value, not yet checked beyond its framing; or the decoded message when large
    /// bins of it were detached, see [`Frame`]), `None` if more bytes are needed.
    /// An error from `parse` poisons the decoder, as a decoding error does.
    pub fn next_frame_with<T, F>(&mut self, parse: F) -> Result<Option<T>, CodecError>
    where
        F: FnOnce(Frame<'_>) -> Result<T, CodecError>,
    {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        match self.step() {
            Ok(Step::More) => {
                if let Some(walk) = &mut self.prewalk {
                    if self.detached.is_empty() {
                        walk.advance(&self.buf[self.start..]);
                    } else {
                        walk.stop();
                    }
                }
                Ok(None)
            }
            Ok(Step::Done(len)) => {
                let frame = &self.buf[self.start..self.start + len];
                let walked = self
                    .prewalk
                    .as_mut()
                    .map(std::mem::take)
                    .filter(crate::raw::Prewalk::walked);
                let res = if !self.detached.is_empty() {
                    let mut reader = Reader {
                        bytes: frame,
                        pos: 0,
                        detached: std::mem::take(&mut self.detached),
                        next_detached: 0,
                    };
                    reader
                        .value()
                        .and_then(|value| {
                            if reader.pos != frame.len() {
                                return Err(CodecError::Trailing(frame.len() - reader.pos));
                            }
                            Ok(value)
                        })
                        .and_then(|value| parse(Frame::Decoded(value)))
                } else if let Some(walked) = walked {
                    parse(Frame::Call(frame, walked))
                } else {
                    parse(Frame::Bytes(frame))
                };
                self.start += len;
                self.scan = Scan::default();
                match res {
                    Ok(value) => Ok(Some(value)),
                    Err(err) => {
                        self.failed = Some(err.clone());
                        Err(err)
                    }
                }
            }
            Err(err) => {
                self.failed = Some(err.clone());
                Err(err)
            }
        }
    }

    /// Move bytes that arrived in the frame buffer while a payload was detached into it.
    fn absorb(&mut self) {
        let Some(det) = self.detached.last_mut() else {
            return;
        };
        let first = self.start + det.at;
        if det.missing() == 0 || self.buf.len() <= first {
            return;
        }
        let take = det.missing().min(self.buf.len() - first);
        det.data.extend_from_slice(&self.buf[first..first + take]);
        self.buf.drain(first..first + take);
    }

    fn too_large(&self, size: u64) -> CodecError {
        CodecError::TooLarge {
            size,
            max: self.max,
        }
    }

    /// Advance the completeness scan over the buffered bytes.
    fn step(&mut self) -> Result<Step, CodecError> {
        self.absorb();
        let avail = &self.buf[self.start..];
        if self.scan.stack.is_empty() {
            if avail.is_empty() {
                self.scan.want = 0;
                return Ok(Step::More);
            }
            self.scan.stack.push(1);
            self.scan.total = 1;
        }
        let max = self.max as u64;
        loop {
            // The common elements first, in a tight loop (see `scan_fast`); anything else, or
            // any limit reached, takes the general path below.
            let limit = max.saturating_sub(self.scan.detached);
            if let Some(end) = scan_fast(&mut self.scan, avail, limit) {
                return Ok(Step::Done(end));
            }
            let pos = self.scan.pos;
            let Some(&marker) = avail.get(pos) else {
                self.scan.want = 1;
                return Ok(Step::More);
            };
            let rest = &avail[pos + 1..];
            // (header bytes after the marker, payload bytes, child elements)
            let (head, body, kids): (usize, u64, u64) = match marker {
                0x00..=0x7f | 0xc0 | 0xc2 | 0xc3 | 0xe0..=0xff => (0, 0, 0),
                0x80..=0x8f => (0, 0, u64::from(marker & 0x0f) * 2),
                0x90..=0x9f => (0, 0, u64::from(marker & 0x0f)),
                0xa0..=0xbf => (0, u64::from(marker & 0x1f), 0),
                0xc1 => return Err(CodecError::BadMarker(marker)),
                0xc4 | 0xd9 => (1, 0, 0),
                0xc5 | 0xda => (2, 0, 0),
                0xc6 | 0xdb => (4, 0, 0),
                0xc7 => (2, 0, 0),
                0xc8 => (3, 0, 0),
                0xc9 => (5, 0, 0),
                0xca => (0, 4, 0),
                0xcb => (0, 8, 0),
                0xcc | 0xd0 => (0, 1, 0),
                0xcd | 0xd1 => (0, 2, 0),
                0xce | 0xd2 => (0, 4, 0),
                0xcf | 0xd3 => (0, 8, 0),
                0xd4 => (1, 1, 0),
                0xd5 => (1, 2, 0),
                0xd6 => (1, 4, 0),
                0xd7 => (1, 8, 0),
                0xd8 => (1, 16, 0),
                0xdc | 0xde => (2, 0, 0),
                0xdd | 0xdf => (4, 0, 0),
            };
            if rest.len() < head {
                self.scan.want = head - rest.len();
                return Ok(Step::More);
            }
            let (body, kids) = match marker {
                0xc4 | 0xc7 | 0xd9 => (u64::from(rest[0]), kids),
                0xc5 | 0xc8 | 0xda => (u64::from(u16::from_be_bytes([rest[0], rest[1]])), kids),
                0xc6 | 0xc9 | 0xdb => (
                    u64::from(u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]])),
                    kids,
                ),
                0xdc => (0, u64::from(u16::from_be_bytes([rest[0], rest[1]]))),
                0xdd => (
                    0,
                    u64::from(u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]])),
                ),
                0xde => (0, 2 * u64::from(u16::from_be_bytes([rest[0], rest[1]]))),
                0xdf => (
                    0,
                    2 * u64::from(u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]])),
                ),
                _ => (body, kids),
            };
            let mut elem_end = pos as u64 + 1 + head as u64 + body;
            // Every pending child needs at least one more byte.
            let pending = self.scan.total - 1 + kids;
            let payload_at = pos + 1 + head;
            let is_bin = matches!(marker, 0xc4..=0xc6);
            if is_bin && let Some(det) = self.detached.last().filter(|d| d.at == payload_at) {
                // Its payload was detached: the frame buffer holds only the header.
                if det.missing() > 0 {
                    self.scan.want = det.missing();
                    return Ok(Step::More);
                }
                elem_end = payload_at as u64;
            } else {
                let least = elem_end + pending + self.scan.detached;
                if least > max {
                    return Err(self.too_large(least));
                }
                if is_bin && body >= self.detach_min as u64 && (avail.len() as u64) < elem_end {
                    // A large bin still arriving: receive its payload into its own buffer.
                    let len = body as usize;
                    let first = self.start + payload_at;
                    let mut data = Vec::with_capacity(len.min(DETACH_ALLOC));
                    data.extend_from_slice(&self.buf[first..]);
                    self.buf.truncate(first);
                    self.scan.detached += body;
                    let det = Detached {
                        at: payload_at,
                        data,
                        len,
                    };
                    self.scan.want = det.missing();
                    self.detached.push(det);
                    return Ok(Step::More);
                }
            }
            if (avail.len() as u64) < elem_end {
                self.scan.want = (elem_end - avail.len() as u64) as usize;
                return Ok(Step::More);
            }
            // Accept the element.
            self.scan.pos = elem_end as usize;
            if let Some(top) = self.scan.stack.last_mut() {
                *top -= 1;
            }
            self.scan.total = pending;
            if kids > 0 {
                if self.scan.stack.len() > MAX_DEPTH {
                    return Err(CodecError::TooDeep(MAX_DEPTH));
                }
                self.scan.stack.push(kids);
            }
            while self.scan.stack.last() == Some(&0) {
                self.scan.stack.pop();
            }
            if self.scan.stack.is_empty() {
                return Ok(Step::Done(self.scan.pos));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn hex(value: &Value) -> String {
        hex::encode(encode(value).unwrap())
    }

    #[test]
    fn ints_use_smallest_form_and_unsigned_family() {
        assert_eq!(hex(&Value::from(0)), "00");
        assert_eq!(hex(&Value::from(127)), "7f");
        assert_eq!(hex(&Value::from(128)), "cc80");
        assert_eq!(hex(&Value::from(255)), "ccff");
        assert_eq!(hex(&Value::from(256)), "cd0100");
        assert_eq!(hex(&Value::from(65536)), "ce00010000");
        assert_eq!(hex(&Value::from(4_294_967_296i64)), "cf0000000100000000");
        assert_eq!(hex(&Value::from(i64::MAX)), "cf7fffffffffffffff");
        assert_eq!(hex(&Value::from(u64::MAX)), "cfffffffffffffffff");
        assert_eq!(hex(&Value::from(-1)), "ff");
        assert_eq!(hex(&Value::from(-32)), "e0");
        assert_eq!(hex(&Value::from(-33)), "d0df");
        assert_eq!(hex(&Value::from(-129)), "d1ff7f");
        assert_eq!(hex(&Value::from(i64::MIN)), "d38000000000000000");
        // A positive int given as a signed type still uses the unsigned family.
        assert_eq!(hex(&Value::from(200i32)), "ccc8");
    }

    #[test]
    fn floats_are_always_f64() {
        assert_eq!(hex(&Value::F64(1.5)), "cb3ff8000000000000");
        assert_eq!(hex(&Value::F32(1.5)), "cb3ff8000000000000");
        assert_eq!(
            decode(&hex::decode("ca3fc00000").unwrap()).unwrap(),
            Value::F32(1.5)
        );
    }

    #[test]
    fn str_and_bin_are_distinct() {
        assert_eq!(hex(&Value::from("str")), "a3737472");
        assert_eq!(hex(&Value::from(vec![0xffu8])), "c401ff");
        assert_eq!(
            hex(&Value::from("x".repeat(32))),
            format!("d920{}", "78".repeat(32))
        );
    }

    #[test]
    fn bigints_travel_as_ext() {
        let two64 =
            decode(&hex::decode("c709000100000000000000 00".replace(' ', "")).unwrap()).unwrap();
        assert_eq!(
            two64,
            Value::Ext(0, hex::decode("010000000000000000").unwrap())
        );
        assert_eq!(hex(&two64), "c70900010000000000000000");
        let neg = decode(&hex::decode("c70901ff7fffffffffffffff").unwrap()).unwrap();
        assert_eq!(hex(&neg), "c70901ff7fffffffffffffff");
        // Small values in ext form normalize to plain ints.
        assert_eq!(
            decode(&hex::decode("d40005").unwrap()).unwrap(),
            Value::from(5)
        );
        assert_eq!(
            decode(&hex::decode("d401ff").unwrap()).unwrap(),
            Value::from(-1)
        );
        assert_eq!(
            decode(&hex::decode("c7020100ff").unwrap()).unwrap(),
            Value::from(255)
        );
        // -2**71: the reference writes 10 bytes (bit_length 72 // 8 + 1).
        let mut twos = vec![0xffu8, 0x80];
        twos.extend_from_slice(&[0u8; 8]);
        let value = decode(&[&[0xc7u8, 10, 1][..], &twos].concat()).unwrap();
        assert_eq!(value, Value::Ext(1, twos));
        assert_eq!(
            decode(&hex::decode("d40500").unwrap()),
            Err(CodecError::BadExt(5))
        );
    }

    #[test]
    fn invalid_utf8_is_kept() {
        let bytes = hex::decode("a3eda080").unwrap(); // a lone surrogate, surrogatepass style
        let value = decode(&bytes).unwrap();
        assert!(value.as_str().is_none());
        assert_eq!(encode(&value).unwrap(), bytes);
    }

    #[test]
    fn bad_input_is_an_error() {
        assert_eq!(decode(&[0xc1]), Err(CodecError::BadMarker(0xc1)));
        assert_eq!(decode(&[0x92, 0x01]), Err(CodecError::Truncated));
        assert_eq!(decode(&[0x01, 0x02]), Err(CodecError::Trailing(1)));
        // An array announcing 4 billion items must not allocate.
        assert_eq!(
            decode(&[0xdd, 0xff, 0xff, 0xff, 0xff]),
            Err(CodecError::Truncated)
        );
        let mut deep = vec![0x91u8; MAX_DEPTH + 1];
        deep.push(0x01);
        assert_eq!(decode(&deep), Err(CodecError::TooDeep(MAX_DEPTH)));
    }

    #[test]
    fn frames_split_and_coalesced() {
        let one = encode(&Value::Array(vec![
            Value::from("t2:genr"),
            Value::Map(vec![]),
        ]))
        .unwrap();
        let two = encode(&Value::from(vec![7u8; 300])).unwrap();
        let all = [one.clone(), two.clone(), one.clone()].concat();
        for split in 0..all.len() {
            let mut dec = FrameDecoder::default();
            let mut got = Vec::new();
            dec.feed(&all[..split]);
            while let Some(v) = dec.next_message().unwrap() {
                got.push(v);
            }
            dec.feed(&all[split..]);
            while let Some(v) = dec.next_message().unwrap() {
                got.push(v);
            }
            assert_eq!(got.len(), 3, "split at {split}");
            assert_eq!(got[1], Value::from(vec![7u8; 300]));
            assert_eq!(dec.buffered(), 0);
        }
    }

    #[test]
    fn large_bins_are_received_into_their_own_buffer() {
        let payload: Vec<u8> = (0..DETACH_MIN * 3).map(|i| (i % 251) as u8).collect();
        let mesg = Value::Array(vec![
            Value::from("t2:init"),
            Value::Binary(payload.clone()),
            Value::from(7),
        ]);
        let bytes = encode(&mesg).unwrap();
        let mut dec = FrameDecoder::default();
        let mut rest = bytes.as_slice();
        let mut detached_reads = 0;
        while !rest.is_empty() {
            let target = dec.read_target();
            let take = target.limit.min(rest.len()).min(100_000);
            if target.buf.capacity() >= payload.len() && target.buf.len() < payload.len() {
                detached_reads += 1;
            }
            target.buf.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if rest.is_empty() {
                break;
            }
            assert_eq!(dec.next_message().unwrap(), None);
        }
        assert!(
            detached_reads > 1,
            "the payload was read into its own buffer"
        );
        assert_eq!(dec.next_message().unwrap(), Some(mesg));
        assert!(!dec.in_message());
        // The message size limit counts detached bytes.
        let mut dec = FrameDecoder::new(DETACH_MIN * 2);
        dec.feed(&bytes[..DETACH_MIN]);
        assert!(matches!(
            dec.next_message(),
            Err(CodecError::TooLarge { .. })
        ));
    }

    #[test]
    fn spliced_encoding_matches_plain_encoding() {
        let big = |n: usize| Value::Binary((0..n).map(|i| (i % 7) as u8).collect());
        let mut value = Value::Array(vec![
            Value::from("x"),
            big(SPLICE_MIN),
            Value::Map(vec![
                (big(SPLICE_MIN + 3), big(10)),
                (Value::Nil, big(SPLICE_MIN * 2)),
            ]),
            big(SPLICE_MIN - 1),
        ]);
        let plain = encode(&value).unwrap();
        let mut out = Spliced::default();
        out.head.push(0x92);
        encode_taking(&mut value, &mut out).unwrap();
        encode_into(&Value::from(1), &mut out.head).unwrap();
        assert_eq!(out.parts.len(), 3);
        let mut want = vec![0x92];
        want.extend_from_slice(&plain);
        want.push(1);
        assert_eq!(out.len(), want.len());
        assert_eq!(out.to_vec(), want);
        out.clear();
        assert!(out.is_empty());
    }

    #[test]
    fn oversize_is_refused_early() {
        let mut dec = FrameDecoder::new(100);
        // A bin32 announcing 1000 bytes: refused from the header alone.
        dec.feed(&[0xc6, 0, 0, 0x03, 0xe8]);
        assert!(matches!(
            dec.next_message(),
            Err(CodecError::TooLarge { .. })
        ));
        // Poisoned afterwards.
        dec.feed(&[0x01]);
        assert!(dec.next_message().is_err());

        let mut dec = FrameDecoder::new(100);
        dec.feed(&[0xdd, 0, 0, 0x03, 0xe8]);
        assert!(matches!(
            dec.next_message(),
            Err(CodecError::TooLarge { .. })
        ));

        let mut dec = FrameDecoder::new(100);
        let ok = encode(&Value::from(vec![1u8; 90])).unwrap();
        dec.feed(&ok);
        assert!(dec.next_message().unwrap().is_some());
    }

    #[test]
    fn deepest_allowed_nesting_roundtrips() {
        let mut value = Value::from(1);
        for _ in 0..MAX_DEPTH {
            value = Value::Array(vec![value]);
        }
        let bytes = encode(&value).unwrap();
        assert_eq!(decode(&bytes).unwrap(), value);
        let mut dec = FrameDecoder::default();
        dec.feed(&bytes);
        assert!(dec.next_message().unwrap().is_some());
        // The same, a byte at a time: the scan stops and resumes at every depth.
        let mut dec = FrameDecoder::default();
        let mut got = None;
        for byte in &bytes {
            assert!(got.is_none(), "a message before its last byte");
            dec.feed(std::slice::from_ref(byte));
            got = dec.next_message().unwrap();
        }
        assert_eq!(got, Some(value));
    }

    #[test]
    fn deep_nesting_is_refused_by_the_scanner() {
        let mut dec = FrameDecoder::default();
        dec.feed(&vec![0x91u8; MAX_DEPTH + 5]);
        assert_eq!(dec.next_message(), Err(CodecError::TooDeep(MAX_DEPTH)));
    }

    pub(crate) fn arb_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Nil),
            any::<bool>().prop_map(Value::Boolean),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("nan", |f| !f.is_nan())
                .prop_map(Value::F64),
            ".{0,40}".prop_map(Value::from),
            proptest::collection::vec(any::<u8>(), 0..300).prop_map(Value::from),
            proptest::collection::vec(any::<u8>(), 9..20).prop_map(|mut mag| {
                mag[0] |= 1;
                Value::Ext(0, mag)
            }),
        ];
        leaf.prop_recursive(4, 64, 16, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..20).prop_map(Value::Array),
                proptest::collection::vec((inner.clone(), inner), 0..20).prop_map(Value::Map),
            ]
        })
    }

    proptest! {
        #[test]
        fn roundtrip(value in arb_value()) {
            let bytes = encode(&value).unwrap();
            prop_assert_eq!(&decode(&bytes).unwrap(), &value);
            // Re-encoding is byte-identical.
            prop_assert_eq!(encode(&decode(&bytes).unwrap()).unwrap(), bytes);
        }

        #[test]
        fn encoding_taking_gives_the_same_bytes(value in arb_value()) {
            let want = encode(&value).unwrap();
            let mut taken = value.clone();
            let mut out = Spliced::default();
            encode_taking(&mut taken, &mut out).unwrap();
            prop_assert_eq!(out.to_vec(), want);
        }

        #[test]
        fn frames_roundtrip_in_chunks(values in proptest::collection::vec(arb_value(), 1..5), chunk in 1usize..50) {
            let mut all = Vec::new();
            for value in &values {
                encode_into(value, &mut all).unwrap();
            }
            let mut dec = FrameDecoder::default();
            let mut got = Vec::new();
            for part in all.chunks(chunk) {
                dec.feed(part);
                while let Some(v) = dec.next_message().unwrap() {
                    got.push(v);
                }
            }
            prop_assert_eq!(got, values);
        }

        #[test]
        fn frames_roundtrip_through_read_targets(
            values in proptest::collection::vec(arb_value(), 1..5),
            chunk in 1usize..50,
            detach_min in 1usize..8,
            feeds in any::<u8>(),
        ) {
            let mut all = Vec::new();
            for value in &values {
                encode_into(value, &mut all).unwrap();
            }
            let mut dec = FrameDecoder::default();
            dec.set_detach_min(detach_min);
            let mut got = Vec::new();
            let mut rest = all.as_slice();
            let mut turn = 0u32;
            while !rest.is_empty() {
                // Mix reads into the offered target with plain feeds.
                let take = if feeds & (1 << (turn % 8)) != 0 {
                    let take = chunk.min(rest.len());
                    dec.feed(&rest[..take]);
                    take
                } else {
                    let target = dec.read_target();
                    prop_assert!(target.limit > 0);
                    let take = chunk.min(rest.len()).min(target.limit);
                    target.buf.extend_from_slice(&rest[..take]);
                    take
                };
                rest = &rest[take..];
                turn += 1;
                while let Some(v) = dec.next_message().unwrap() {
                    got.push(v);
                }
            }
            prop_assert_eq!(dec.buffered(), 0);
            prop_assert!(!dec.in_message());
            prop_assert_eq!(got, values);
        }

        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            // The fuzz targets' bodies (fuzz/), on random bytes.
            crate::fuzzing::frames(&bytes);
            crate::fuzzing::messages(&bytes);
        }

        #[test]
        fn valid_streams_through_the_fuzz_bodies(values in proptest::collection::vec(arb_value(), 0..4), chunk in 0u8..64, limit in any::<u8>()) {
            let mut data = vec![chunk, limit];
            for value in &values {
                encode_into(value, &mut data).unwrap();
            }
            crate::fuzzing::frames(&data);
            crate::fuzzing::messages(&data[2..]);
        }
    }
}
