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
    // Odd limits also detach every bin of 4 bytes or more; half the limits walk calls as
    // they arrive.
    if limit % 2 == 1 {
        dec.set_detach_min(4);
    }
    if limit % 4 < 2 {
        dec.walk_calls();
    }
    let mut got = Vec::new();
    let mut failed = false;
    'feed: for part in body.chunks(chunk) {
        dec.feed(part);
        loop {
            let next = dec.next_frame_with(|frame| match frame {
                crate::codec::Frame::Call(bytes, walked) => {
                    check_walked(bytes, walked);
                    decode(bytes)
                }
                frame => frame.decode(),
            });
            match next {
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

/// A call's arguments read with what was walked of them while the message arrived are read
/// as without it.
fn check_walked(frame: &[u8], walked: crate::raw::Prewalk) {
    let param = crate::raw::RawParam {
        index: walked.arg(),
        name: "",
    };
    let read = |walked| {
        crate::raw::peek_t2_init(frame, walked)
            .and_then(|head| head.todo(frame, Some(param)).ok())
            .map(|(todo, raw)| {
                (
                    encode(&todo.to_value()).ok(),
                    raw.map(|raw| raw.into_parts()),
                )
            })
    };
    assert!(
        read(Some(walked)) == read(None),
        "walking a call as it arrives changed how it is read"
    );
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
    raw_values(data);
    let mut rest = data;
    while let Ok((value, used)) = decode_prefix(rest) {
        let frame = &rest[..used];
        rest = &rest[used..];
        // A `t2:init` read without decoding its arguments gives the same todo as decoding.
        if let Some(head) = crate::raw::peek_t2_init(frame, None)
            && let Ok((todo, _)) = head.todo(frame, None)
        {
            let info = value
                .as_array()
                .and_then(|items| items.get(1))
                .and_then(|info| info.get_key("todo"))
                .cloned();
            let decoded = info.map(Todo::from_value);
            assert!(
                matches!(&decoded, Some(Ok(again)) if encode(&again.to_value()) == encode(&todo.to_value())),
                "peek_t2_init disagrees with the decoder"
            );
        }
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

/// [`crate::raw::inspect`] on `data`: it must agree with the decoder on where the first value
/// ends (or that there is none), and a canonical value must re-encode to the same bytes.
pub fn raw_values(data: &[u8]) {
    use crate::raw::{Inspect, inspect};
    let found = inspect(data, 0, Inspect::default());
    match decode_prefix(data) {
        Ok((value, used)) => {
            let Ok(found) = found else {
                panic!("inspect refuses a value the decoder accepts");
            };
            assert_eq!(
                found.end, used,
                "inspect and the decoder disagree on the end"
            );
            if found.canonical {
                assert_eq!(encode(&value).ok().as_deref(), Some(&data[..used]));
            }
        }
        Err(_) => assert!(
            found.is_err(),
            "inspect accepts a value the decoder refuses"
        ),
    }
    let python = Inspect {
        python: true,
        ..Inspect::default()
    };
    let _ = inspect(data, 0, python);
}
