//! Raw values: a msgpack value kept as its bytes, checked but never built into a [`Value`]
//! tree.
//!
//! A method can ask the daemon for one of its arguments raw ([`RawParam`], declared with
//! [`Methods::raw_param`](crate::Methods::raw_param) or [`Share::raw_param`](crate::Share::raw_param)):
//! the daemon then checks that argument's bytes in the `t2:init` message ([`inspect`]) and
//! hands them over as a [`RawValue`] ([`Call::take_raw`](crate::Call::take_raw)), so a
//! service that stores values as msgpack (a Cryotank) can store the bytes as they came.
//!
//! [`inspect`] also tells whether the bytes are exactly what the reference's packer makes
//! of the value they decode to (smallest forms, float64, no ext for ints that fit 64 bits),
//! and, with [`Inspect::python`], refuses what the reference's unpacker could not decode
//! back: strings that are not UTF-8 (lone surrogates are allowed, as with `surrogatepass`)
//! and map keys Python cannot hash (maps, or arrays holding maps).

use rmpv::Value;

use crate::codec::{CodecError, MAX_DEPTH, decode};
use crate::msg::Todo;

/// One msgpack value as bytes, known to be well formed (every length within the bytes,
/// no reserved marker, ext codes 0 and 1 only, nesting at most [`MAX_DEPTH`]).
#[derive(Clone, PartialEq, Eq)]
pub struct RawValue {
    bytes: Vec<u8>,
}

impl std::fmt::Debug for RawValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawValue")
            .field("len", &self.bytes.len())
            .finish()
    }
}

impl RawValue {
    /// Check `bytes` (exactly one value, well formed) and keep them.
    pub fn new(bytes: Vec<u8>) -> Result<Self, CodecError> {
        let found = inspect(&bytes, 0, Inspect::default()).map_err(RawError::into_codec)?;
        if found.end != bytes.len() {
            return Err(CodecError::Trailing(bytes.len() - found.end));
        }
        Ok(Self { bytes })
    }

    /// The value encoded as the reference's packer does.
    pub fn from_value(value: &Value) -> Result<Self, CodecError> {
        Ok(Self {
            bytes: crate::codec::encode(value)?,
        })
    }

    /// Bytes already checked by [`inspect`].
    pub(crate) fn from_checked(bytes: Vec<u8>) -> Self {
        Self { bytes }
    }

    /// The msgpack bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The msgpack bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// The number of bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Never true (a msgpack value takes at least one byte); for clippy's sake.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Decode the value.
    pub fn decode(&self) -> Result<Value, CodecError> {
        decode(&self.bytes)
    }

    /// If the value is an array: its length and the offset of its first element.
    pub fn array_header(&self) -> Option<(usize, usize)> {
        container_header(&self.bytes, 0).and_then(|(kind, len, head)| match kind {
            Kind::Array => Some((len, head)),
            Kind::Map => None,
        })
    }
}

/// A method parameter that the daemon hands over raw: positional index `index` or keyword
/// `name` (the same parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawParam {
    /// The position of the parameter (0 = the first argument after `self`).
    pub index: usize,
    /// Its name, for keyword arguments.
    pub name: &'static str,
}

/// Options of [`inspect`].
#[derive(Debug, Clone, Copy)]
pub struct Inspect {
    /// Also refuse what the reference's unpacker cannot decode back (see the module docs).
    pub python: bool,
    /// The deepest nesting allowed (the value itself is at depth 0).
    pub max_depth: usize,
}

impl Default for Inspect {
    fn default() -> Self {
        Self {
            python: false,
            max_depth: MAX_DEPTH,
        }
    }
}

/// What [`inspect`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Inspected {
    /// The offset just past the value.
    pub end: usize,
    /// True if the bytes are exactly what the reference's packer makes of the decoded value.
    pub canonical: bool,
}

/// Why [`inspect`] refused a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RawError {
    /// Not well-formed msgpack.
    #[error(transparent)]
    Codec(#[from] CodecError),
    /// Well formed, but the reference could not decode it (with [`Inspect::python`]).
    #[error("{0}")]
    NotPythonSafe(String),
}

impl RawError {
    fn into_codec(self) -> CodecError {
        match self {
            RawError::Codec(err) => err,
            // Not produced without `python`.
            RawError::NotPythonSafe(_) => CodecError::Truncated,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Array,
    Map,
}

/// The kind, length and header size of an array or map starting at `pos`.
fn container_header(bytes: &[u8], pos: usize) -> Option<(Kind, usize, usize)> {
    let marker = *bytes.get(pos)?;
    let be16 = || {
        Some(usize::from(u16::from_be_bytes([
            *bytes.get(pos + 1)?,
            *bytes.get(pos + 2)?,
        ])))
    };
    let be32 = || {
        let b = bytes.get(pos + 1..pos + 5)?;
        Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
    };
    match marker {
        0x80..=0x8f => Some((Kind::Map, usize::from(marker & 0x0f), 1)),
        0x90..=0x9f => Some((Kind::Array, usize::from(marker & 0x0f), 1)),
        0xdc => Some((Kind::Array, be16()?, 3)),
        0xdd => Some((Kind::Array, be32()?, 5)),
        0xde => Some((Kind::Map, be16()?, 3)),
        0xdf => Some((Kind::Map, be32()?, 5)),
        _ => None,
    }
}

/// Check the msgpack value starting at `bytes[pos]` without building it: where it ends,
/// and whether it is in the reference packer's canonical form. The checks are those of
/// [`decode`] (plus [`Inspect::python`] ones if asked); nothing is allocated.
pub fn inspect(bytes: &[u8], pos: usize, opts: Inspect) -> Result<Inspected, RawError> {
    let mut walk = Walk {
        bytes,
        opts,
        canonical: true,
    };
    let end = walk.value(pos, 0, false)?;
    Ok(Inspected {
        end,
        canonical: walk.canonical,
    })
}

/// One [`inspect`] walk: a recursive descent, at most [`Inspect::max_depth`] deep.
struct Walk<'a> {
    bytes: &'a [u8],
    opts: Inspect,
    canonical: bool,
}

impl Walk<'_> {
    /// `len` bytes from `at`.
    #[inline]
    fn take(&self, at: usize, len: usize) -> Result<&[u8], CodecError> {
        at.checked_add(len)
            .and_then(|end| self.bytes.get(at..end))
            .ok_or(CodecError::Truncated)
    }

    /// A big-endian unsigned int of `len` bytes at `at`.
    #[inline]
    fn uint(&self, at: usize, len: usize) -> Result<u64, CodecError> {
        Ok(self
            .take(at, len)?
            .iter()
            .fold(0u64, |acc, byte| (acc << 8) | u64::from(*byte)))
    }

    /// Skip `len` bytes of payload from `at`.
    #[inline]
    fn skip(&self, at: usize, len: u64) -> Result<usize, CodecError> {
        usize::try_from(len)
            .ok()
            .and_then(|len| at.checked_add(len))
            .filter(|end| *end <= self.bytes.len())
            .ok_or(CodecError::Truncated)
    }

    /// A string of `len` bytes at `at`: where it ends.
    #[inline]
    fn text(&self, at: usize, len: u64) -> Result<usize, RawError> {
        let end = self.skip(at, len)?;
        check_text(&self.bytes[at..end], self.opts)?;
        Ok(end)
    }

    /// The value at `pos`, `depth` containers deep (`in_key`: inside a map key): where it
    /// ends.
    fn value(&mut self, pos: usize, depth: usize, in_key: bool) -> Result<usize, RawError> {
        if depth > self.opts.max_depth {
            return Err(CodecError::TooDeep(self.opts.max_depth).into());
        }
        let marker = *self.bytes.get(pos).ok_or(CodecError::Truncated)?;
        let at = pos + 1;
        let end = match marker {
            0x00..=0x7f | 0xc0 | 0xc2 | 0xc3 | 0xe0..=0xff => at,
            0xa0..=0xbf => self.text(at, u64::from(marker & 0x1f))?,
            0x90..=0x9f => return self.items(at, u64::from(marker & 0x0f), false, depth, in_key),
            0x80..=0x8f => return self.items(at, u64::from(marker & 0x0f), true, depth, in_key),
            0xc1 => return Err(CodecError::BadMarker(marker).into()),
            0xc4..=0xc6 => {
                let head = 1 << (marker - 0xc4);
                let len = self.uint(at, head)?;
                self.canonical &= head == 1 || len > [0, 0xff, 0xffff][head / 2];
                self.skip(at + head, len)?
            }
            0xc7..=0xc9 => {
                let head = 1 << (marker - 0xc7);
                let len = self.uint(at, head)?;
                check_ext(self.bytes.get(at + head).copied())?;
                // Ext ints are rare: let the packer decide their form.
                self.canonical = false;
                self.skip(at + head + 1, len)?
            }
            0xca => {
                self.canonical = false;
                self.skip(at, 4)?
            }
            0xcb => self.skip(at, 8)?,
            0xcc..=0xcf => {
                let len = 1 << (marker - 0xcc);
                let num = self.uint(at, len)?;
                self.canonical &= num > [0x7f, 0xff, 0xffff, 0xffff_ffff][marker as usize - 0xcc];
                at + len
            }
            0xd0..=0xd3 => {
                let len = 1usize << (marker - 0xd0);
                let raw = self.uint(at, len)?;
                // Sign-extend.
                let shift = 64 - 8 * len as u32;
                let num = ((raw << shift) as i64) >> shift;
                self.canonical &= num < [-32, -0x80, -0x8000, -0x8000_0000][marker as usize - 0xd0];
                at + len
            }
            0xd4..=0xd8 => {
                check_ext(self.bytes.get(at).copied())?;
                self.canonical = false;
                self.skip(at, 1 + (1u64 << (marker - 0xd4)))?
            }
            0xd9..=0xdb => {
                let head = 1 << (marker - 0xd9);
                let len = self.uint(at, head)?;
                self.canonical &= len > [0x1f, 0xff, 0xffff][head / 2];
                self.text(at + head, len)?
            }
            0xdc..=0xdf => {
                let head = if marker & 1 == 0 { 2 } else { 4 };
                let len = self.uint(at, head)?;
                self.canonical &= len > [0x0f, 0xffff][head / 4];
                return self.items(at + head, len, marker >= 0xde, depth, in_key);
            }
        };
        Ok(end)
    }

    /// The `len` elements (pairs for a map) of a container whose first element is at `pos`.
    fn items(
        &mut self,
        mut pos: usize,
        len: u64,
        is_map: bool,
        depth: usize,
        in_key: bool,
    ) -> Result<usize, RawError> {
        if is_map && self.opts.python && in_key {
            return Err(RawError::NotPythonSafe(
                "a map key is a map (not hashable)".into(),
            ));
        }
        let kids = if is_map { len * 2 } else { len };
        // Every element takes at least one byte.
        if kids > (self.bytes.len().saturating_sub(pos)) as u64 {
            return Err(CodecError::Truncated.into());
        }
        if kids > 0 && depth + 1 > self.opts.max_depth {
            return Err(CodecError::TooDeep(self.opts.max_depth).into());
        }
        for _ in 0..len {
            if is_map {
                pos = self.value(pos, depth + 1, true)?;
            }
            pos = self.value(pos, depth + 1, in_key)?;
        }
        Ok(pos)
    }
}

fn check_ext(code: Option<u8>) -> Result<(), CodecError> {
    match code {
        Some(0 | 1) => Ok(()),
        Some(code) => Err(CodecError::BadExt(code as i8)),
        None => Err(CodecError::Truncated),
    }
}

fn check_text(text: &[u8], opts: Inspect) -> Result<(), RawError> {
    // Most strings are ASCII: a plain byte scan beats the UTF-8 decoder on short ones.
    if opts.python && !text.is_ascii() && !is_surrogatepass_utf8(text) {
        return Err(RawError::NotPythonSafe(
            "a string is not valid UTF-8".into(),
        ));
    }
    Ok(())
}

/// UTF-8 in which UTF-8-encoded surrogates (`ED A0..BF xx`) are allowed, as Python's
/// `surrogatepass` decoder accepts.
pub fn is_surrogatepass_utf8(mut bytes: &[u8]) -> bool {
    loop {
        match std::str::from_utf8(bytes) {
            Ok(_) => return true,
            Err(err) => {
                let at = err.valid_up_to();
                match bytes.get(at..at + 3) {
                    Some([0xed, 0xa0..=0xbf, 0x80..=0xbf]) => bytes = &bytes[at + 3..],
                    _ => return false,
                }
            }
        }
    }
}

/// A `t2:init` message read without decoding its arguments: `[t2:init, {todo: [meth, args,
/// kwargs], name, sess}]` with each argument as a byte range of the message.
pub(crate) struct T2Head<'a> {
    pub(crate) meth: &'a str,
    pub(crate) args: Vec<(usize, usize)>,
    pub(crate) kwargs: Vec<(&'a str, (usize, usize))>,
    pub(crate) name: Value,
    pub(crate) sess: Option<&'a str>,
}

impl T2Head<'_> {
    /// The call's `todo`, every argument decoded except `param` (if given and passed), which
    /// is taken out raw and left as `None` in its place.
    pub(crate) fn todo(
        &self,
        frame: &[u8],
        param: Option<RawParam>,
    ) -> Result<(Todo, Option<RawValue>), CodecError> {
        let span = param.and_then(|param| match self.args.get(param.index) {
            Some(span) => Some(*span),
            None => self
                .kwargs
                .iter()
                .find(|(key, _)| *key == param.name)
                .map(|(_, span)| *span),
        });
        let raw = span.map(|(start, end)| RawValue::from_checked(frame[start..end].to_vec()));
        let value = |at: (usize, usize)| -> Result<Value, CodecError> {
            if Some(at) == span {
                Ok(Value::Nil)
            } else {
                decode(&frame[at.0..at.1])
            }
        };
        let args = self
            .args
            .iter()
            .map(|at| value(*at))
            .collect::<Result<Vec<_>, _>>()?;
        let kwargs = self
            .kwargs
            .iter()
            .map(|(key, at)| Ok(((*key).to_owned(), value(*at)?)))
            .collect::<Result<Vec<_>, CodecError>>()?;
        let todo = Todo {
            meth: self.meth.to_owned(),
            args,
            kwargs,
        };
        Ok((todo, raw))
    }
}

/// A str at `pos`: the text and the offset after it.
fn read_str(bytes: &[u8], pos: usize) -> Option<(&str, usize)> {
    let marker = *bytes.get(pos)?;
    let (len, head) = match marker {
        0xa0..=0xbf => (usize::from(marker & 0x1f), 1),
        0xd9 => (usize::from(*bytes.get(pos + 1)?), 2),
        0xda => (
            usize::from(u16::from_be_bytes([
                *bytes.get(pos + 1)?,
                *bytes.get(pos + 2)?,
            ])),
            3,
        ),
        _ => return None,
    };
    let start = pos + head;
    let text = std::str::from_utf8(bytes.get(start..start + len)?).ok()?;
    Some((text, start + len))
}

/// The end of the value at `pos`, checked as [`decode`] would.
fn skip(bytes: &[u8], pos: usize) -> Option<usize> {
    inspect(bytes, pos, Inspect::default())
        .ok()
        .map(|found| found.end)
}

/// Read a `t2:init` message's head, or `None` for any other message or any unusual shape
/// (the caller then decodes the whole message the ordinary way, with its ordinary errors).
pub(crate) fn peek_t2_init(frame: &[u8]) -> Option<T2Head<'_>> {
    let (Kind::Array, 2, mut pos) = container_header(frame, 0)? else {
        return None;
    };
    let (kind, next) = read_str(frame, pos)?;
    if kind != "t2:init" {
        return None;
    }
    pos = next;
    let (Kind::Map, nkeys, head) = container_header(frame, pos)? else {
        return None;
    };
    pos += head;
    let mut todo = None;
    let mut name = None;
    let mut sess = None;
    for _ in 0..nkeys {
        let (key, next) = read_str(frame, pos)?;
        let end = skip(frame, next)?;
        match key {
            "todo" if todo.is_none() => todo = Some(next),
            "name" if name.is_none() => name = Some(decode(&frame[next..end]).ok()?),
            "sess" if sess.is_none() => sess = Some(read_str(frame, next).map(|(text, _)| text)),
            "todo" | "name" | "sess" => return None,
            _ => {}
        }
        pos = end;
    }
    if pos != frame.len() {
        return None;
    }
    // todo: [meth, args, kwargs]
    let mut pos = todo?;
    let (Kind::Array, 3, head) = container_header(frame, pos)? else {
        return None;
    };
    pos += head;
    let (meth, next) = read_str(frame, pos)?;
    pos = next;
    let (Kind::Array, nargs, head) = container_header(frame, pos)? else {
        return None;
    };
    pos += head;
    let mut args = Vec::with_capacity(nargs);
    for _ in 0..nargs {
        let end = skip(frame, pos)?;
        args.push((pos, end));
        pos = end;
    }
    let (Kind::Map, nkw, head) = container_header(frame, pos)? else {
        return None;
    };
    pos += head;
    let mut kwargs = Vec::with_capacity(nkw);
    for _ in 0..nkw {
        let (key, next) = read_str(frame, pos)?;
        let end = skip(frame, next)?;
        kwargs.push((key, (next, end)));
        pos = end;
    }
    Some(T2Head {
        meth,
        args,
        kwargs,
        name: name.unwrap_or(Value::Nil),
        sess: sess.flatten(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::encode;
    use proptest::prelude::*;

    fn check(value: &Value) -> Inspected {
        let bytes = encode(value).unwrap();
        let found = inspect(&bytes, 0, Inspect::default()).unwrap();
        assert_eq!(found.end, bytes.len());
        found
    }

    #[test]
    fn canonical_forms() {
        for value in [
            Value::from(0),
            Value::from(127),
            Value::from(128),
            Value::from(65536),
            Value::from(u64::MAX),
            Value::from(-1),
            Value::from(-33),
            Value::from(i64::MIN),
            Value::F64(1.5),
            Value::from("x".repeat(40)),
            Value::from("x".repeat(300)),
            Value::Binary(vec![1; 300]),
            Value::Array(vec![Value::Nil; 20]),
            Value::Map(vec![(Value::from("k"), Value::Nil); 20]),
        ] {
            assert!(check(&value).canonical, "{value}");
        }
        // Not the packer's forms: a 1 as uint16, a float32, a short str as str8, an ext int.
        for bytes in [
            &b"\xcd\x00\x01"[..],
            b"\xd0\x05",
            b"\xca\x3f\xc0\x00\x00",
            b"\xd9\x01a",
            b"\xdc\x00\x01\xc0",
            b"\xd4\x00\x01",
            b"\xc5\x00\x01a",
        ] {
            let found = inspect(bytes, 0, Inspect::default()).unwrap();
            assert_eq!(
                (found.end, found.canonical),
                (bytes.len(), false),
                "{bytes:?}"
            );
        }
    }

    #[test]
    fn refuses_bad_bytes() {
        for bytes in [
            &b""[..],
            b"\xc1",
            b"\x92\x01",
            b"\xd9\x05ab",
            b"\xdd\xff\xff\xff\xff\x01",
            b"\xd4\x05\x01",
            b"\xc7\x01\x07\x00",
        ] {
            assert!(inspect(bytes, 0, Inspect::default()).is_err(), "{bytes:?}");
            assert!(RawValue::new(bytes.to_vec()).is_err());
        }
        assert_eq!(
            RawValue::new(b"\x01\x02".to_vec()),
            Err(CodecError::Trailing(1))
        );
        let mut deep = vec![0x91; 40];
        deep.push(0xc0);
        let opts = Inspect {
            python: false,
            max_depth: 8,
        };
        assert!(matches!(
            inspect(&deep, 0, opts),
            Err(RawError::Codec(CodecError::TooDeep(8)))
        ));
        assert!(inspect(&deep, 0, Inspect::default()).is_ok());
    }

    #[test]
    fn python_checks() {
        let python = Inspect {
            python: true,
            ..Inspect::default()
        };
        // {{}: 1}, {({},): 1}, a str with bad UTF-8
        for bytes in [&b"\x81\x80\x01"[..], b"\x81\x91\x80\x01", b"\xa2\xff\xfe"] {
            assert!(inspect(bytes, 0, Inspect::default()).is_ok());
            assert!(
                matches!(inspect(bytes, 0, python), Err(RawError::NotPythonSafe(_))),
                "{bytes:?}"
            );
        }
        // A map as a value, a tuple key, lone surrogates: fine.
        for bytes in [
            &b"\x81\x01\x80"[..],
            b"\x81\x91\x01\x80",
            b"\xa5a\xed\xa0\x80b",
            b"\x91\x81\x01\x81\x02\x03",
        ] {
            assert!(inspect(bytes, 0, python).is_ok(), "{bytes:?}");
        }
    }

    #[test]
    fn t2_init_heads() {
        let args = vec![Value::from("tank"), Value::Array(vec![Value::from(1)])];
        let kwargs = vec![("size".to_owned(), Value::from(5))];
        let mut frame = Vec::new();
        frame.extend(t2_frame("puts", &args, &kwargs, None, "sess1"));
        let head = peek_t2_init(&frame).unwrap();
        assert_eq!(
            (head.meth, head.sess, &head.name),
            ("puts", Some("sess1"), &Value::Nil)
        );
        let param = RawParam {
            index: 1,
            name: "items",
        };
        let (todo, raw) = head.todo(&frame, Some(param)).unwrap();
        let raw = raw.unwrap();
        assert_eq!(raw.decode().unwrap(), args[1]);
        assert_eq!(raw.array_header(), Some((1, 1)));
        let want = Todo {
            meth: "puts".into(),
            args: vec![Value::from("tank"), Value::Nil],
            kwargs: kwargs.clone(),
        };
        assert_eq!(todo, want);
        let (todo, raw) = head.todo(&frame, None).unwrap();
        assert!(raw.is_none());
        assert_eq!(todo.args, args);
        // As a keyword argument.
        let param = RawParam {
            index: 5,
            name: "size",
        };
        let (todo, raw) = head.todo(&frame, Some(param)).unwrap();
        assert_eq!(raw.unwrap().as_bytes(), b"\x05");
        assert_eq!(todo.kwargs, vec![("size".to_owned(), Value::Nil)]);
        let param = RawParam {
            index: 5,
            name: "nope",
        };
        let (todo, raw) = head.todo(&frame, Some(param)).unwrap();
        assert!(raw.is_none());
        assert_eq!(todo.kwargs, kwargs);
        // Other messages and odd shapes are left to the ordinary decoder.
        for value in [
            crate::msg::mesg("t2:fini", Value::Nil),
            crate::msg::mesg("t2:init", Value::Nil),
            crate::msg::mesg("t2:init", crate::value::vmap([("todo", Value::from(1))])),
            Value::from(1),
        ] {
            assert!(peek_t2_init(&encode(&value).unwrap()).is_none());
        }
    }

    proptest! {
        #[test]
        fn the_packers_output_is_canonical(value in arb_value()) {
            let bytes = encode(&value).unwrap();
            let found = inspect(&bytes, 0, Inspect::default()).unwrap();
            prop_assert_eq!(found.end, bytes.len());
            prop_assert!(found.canonical);
        }

        #[test]
        fn fuzz_bodies_hold(value in arb_value(), tail in prop::collection::vec(any::<u8>(), 0..8)) {
            let mut bytes = encode(&value).unwrap();
            bytes.extend(tail);
            crate::fuzzing::raw_values(&bytes);
            crate::fuzzing::messages(&bytes);
        }

        #[test]
        fn t2_init_heads_agree_with_decoding(
            args in prop::collection::vec(arb_value(), 0..4),
            kwargs in prop::collection::vec((".{0,6}", arb_value()), 0..3),
            name in prop::option::of(".{0,6}"),
        ) {
            let mut frame = Vec::new();
            frame.extend(t2_frame("meth", &args, &kwargs, name.as_deref(), "sess"));
            let head = peek_t2_init(&frame).unwrap();
            prop_assert_eq!(head.name.as_str(), name.as_deref());
            let (todo, _) = head.todo(&frame, None).unwrap();
            prop_assert_eq!(encode(&todo.to_value()).unwrap(), encode(&Todo { meth: "meth".into(), args, kwargs }.to_value()).unwrap());
            crate::fuzzing::messages(&frame);
        }

        #[test]
        fn inspect_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
            crate::fuzzing::raw_values(&bytes);
            let found = inspect(&bytes, 0, Inspect::default());
            match decode_prefix_ok(&bytes) {
                Some(end) => prop_assert_eq!(found.map(|f| f.end).ok(), Some(end)),
                None => prop_assert!(found.is_err()),
            }
        }
    }

    /// A `t2:init` message as a client sends it.
    fn t2_frame(
        meth: &str,
        args: &[Value],
        kwargs: &[(String, Value)],
        name: Option<&str>,
        sess: &str,
    ) -> Vec<u8> {
        let todo = Todo {
            meth: meth.into(),
            args: args.to_vec(),
            kwargs: kwargs.to_vec(),
        };
        let info = crate::value::vmap([
            ("todo", todo.to_value()),
            ("name", name.map_or(Value::Nil, Value::from)),
            ("sess", Value::from(sess)),
        ]);
        encode(&crate::msg::mesg("t2:init", info)).unwrap()
    }

    fn arb_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Nil),
            any::<bool>().prop_map(Value::Boolean),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::F64),
            ".{0,40}".prop_map(Value::from),
            prop::collection::vec(any::<u8>(), 0..300).prop_map(Value::Binary),
        ];
        leaf.prop_recursive(4, 64, 20, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..20).prop_map(Value::Array),
                prop::collection::vec((inner.clone(), inner), 0..20).prop_map(Value::Map),
            ]
        })
    }

    fn decode_prefix_ok(bytes: &[u8]) -> Option<usize> {
        crate::codec::decode_prefix(bytes).ok().map(|(_, end)| end)
    }
}
