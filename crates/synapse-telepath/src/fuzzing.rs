//! Fuzzing entry points, shared by the cargo-fuzz targets in `fuzz/` and by property tests
//! (so CI exercises the same code on the stable toolchain). Each must never panic, whatever
//! the input; they panic only when a checked property is broken.

use rmpv::Value;

use crate::codec::{FrameDecoder, decode, decode_prefix, encode};
use crate::error::{RemoteError, parse_retn};
use crate::msg::{Todo, split_mesg};
use crate::value::ValueExt;

/// The frame decoder on `data`, fed in chunks whose size (and the size limit) come from the
/// first bytes: every message it returns must re-encode to a value that decodes the same, and
/// it must agree with the one-shot decoder.
pub fn frames(data: &[u8]) {
    let (Some(&chunk), Some(&limit)) = (data.first(), data.get(1)) else {
        return;
    };
    let body = &data[2..];
    let chunk = usize::from(chunk % 64) + 1;
    let max = match limit {
        0..=127 => usize::from(limit) * 8 + 1,
        _ => crate::codec::DEFAULT_MAX_MESSAGE,
    };
    let mut dec = FrameDecoder::new(max);
    // Odd limits also detach every bin of 4 bytes or more.
    if limit % 2 == 1 {
        dec.set_detach_min(4);
    }
    let mut got = Vec::new();
    let mut failed = false;
    'feed: for part in body.chunks(chunk) {
        dec.feed(part);
        loop {
            match dec.next_message() {
                Ok(Some(value)) => got.push(value),
                Ok(None) => break,
                Err(_) => {
                    failed = true;
                    break 'feed;
                }
            }
        }
    }
    // The one-shot decoder finds the same leading messages.
    let mut rest = body;
    for value in &got {
        let Ok((again, used)) = decode_prefix(rest) else {
            panic!("the frame decoder accepted a message the one-shot decoder refuses");
        };
        assert_eq!(encode(&again), encode(value), "decoders disagree");
        rest = &rest[used..];
    }
    if !failed {
        // Everything still buffered is an incomplete message.
        assert_eq!(dec.buffered(), rest.len());
    }
    for value in got {
        roundtrip(&value);
    }
}

/// Encode then decode: the same value, and re-encoding gives the same bytes.
fn roundtrip(value: &Value) {
    let Ok(bytes) = encode(value) else { return };
    let back = decode(&bytes).unwrap_or_else(|err| panic!("cannot decode our own bytes: {err}"));
    // NaN floats are not equal to themselves: compare bytes.
    let again = encode(&back).unwrap_or_else(|err| panic!("cannot re-encode: {err}"));
    assert_eq!(again, bytes, "re-encoding changed the bytes");
}

/// The message parsers on every value decoded from `data`: `[type, info]` splitting, todos,
/// result envelopes and remote errors.
pub fn messages(data: &[u8]) {
    let mut rest = data;
    while let Ok((value, used)) = decode_prefix(rest) {
        rest = &rest[used..];
        let _ = RemoteError::from_value(value.clone());
        let _ = parse_retn(value.clone());
        let Some((_kind, mut info)) = split_mesg(value) else {
            continue;
        };
        if let Some(todo) = info.take_key("todo")
            && let Ok(todo) = Todo::from_value(todo)
        {
            let again = Todo::from_value(todo.to_value()).unwrap_or_else(|err| panic!("{err}"));
            assert_eq!(encode(&again.to_value()), encode(&todo.to_value()));
        }
        if let Some(retn) = info.take_key("retn")
            && let Ok(Err(err)) = parse_retn(retn)
        {
            let again =
                RemoteError::from_value(err.to_value()).unwrap_or_else(|err| panic!("{err}"));
            assert_eq!(encode(&again.to_value()), encode(&err.to_value()));
        }
        if used == 0 {
            break;
        }
    }
}
