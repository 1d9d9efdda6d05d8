//! Blobs read as text, JSON lines, CSV rows or msgpack items (`readlines`, `jsonlines`,
//! `csvrows`, `iterMpkFile`).
//!
//! The reference decodes in a child process through Python's text layer: UTF-8 with an error
//! handler (`ignore` by default) and universal newlines (`\n`, `\r\n` and `\r` all end a line).
//! Here the bytes are read in pieces and cut into lines as they come, so memory stays bounded
//! by the longest line.

use futures::stream::{self, BoxStream, StreamExt};
use rmpv::Value;
use synapse_telepath::FrameDecoder;

use crate::axon::Axon;
use crate::csv::{Format, Reader};
use crate::error::{Error, Result};
use crate::hash::Sha256;

/// The size of the pieces text is read in.
const READ_PIECE: u64 = 1024 * 1024;
/// The largest msgpack item `iterMpkFile` decodes.
const MPK_MAX_ITEM: usize = 1 << 30;

/// How undecodable bytes are handled (Python's `errors=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Errors {
    /// `BadDataValu` on the first undecodable byte.
    Strict,
    /// Drop undecodable bytes.
    Ignore,
    /// U+FFFD for each undecodable sequence.
    Replace,
    /// `\xNN` for each undecodable byte.
    BackslashReplace,
}

impl Errors {
    pub(crate) fn parse(name: &str) -> Result<Errors> {
        match name {
            "strict" => Ok(Errors::Strict),
            "ignore" => Ok(Errors::Ignore),
            "replace" => Ok(Errors::Replace),
            "backslashreplace" => Ok(Errors::BackslashReplace),
            other => Err(Error::Python {
                name: "LookupError",
                mesg: format!("unknown error handler name '{other}'"),
            }),
        }
    }
}

/// Decode UTF-8 with Python's error handlers.
pub(crate) fn decode(byts: &[u8], errors: Errors) -> Result<String> {
    let mut out = String::with_capacity(byts.len());
    let mut rest = byts;
    let mut consumed = 0usize;
    loop {
        match std::str::from_utf8(rest) {
            Ok(text) => {
                out.push_str(text);
                return Ok(out);
            }
            Err(err) => {
                let good = err.valid_up_to();
                // The prefix is valid UTF-8 by construction.
                out.push_str(&String::from_utf8_lossy(&rest[..good]));
                let bad = err.error_len().unwrap_or(rest.len() - good);
                let badbyts = &rest[good..good + bad];
                match errors {
                    Errors::Strict => {
                        let pos = consumed + good;
                        let reason = match err.error_len() {
                            None => "unexpected end of data",
                            Some(_) if (0x80..0xc2).contains(&badbyts[0]) || badbyts[0] > 0xf4 => {
                                "invalid start byte"
                            }
                            Some(_) => "invalid continuation byte",
                        };
                        let mesg = if bad > 1 {
                            format!(
                                "'utf-8' codec can't decode bytes in position {pos}-{}: {reason}",
                                pos + bad - 1
                            )
                        } else {
                            format!(
                                "'utf-8' codec can't decode byte 0x{:02x} in position {pos}: {reason}",
                                badbyts[0]
                            )
                        };
                        return Err(Error::bad_data(mesg));
                    }
                    Errors::Ignore => {}
                    Errors::Replace => out.push('\u{fffd}'),
                    Errors::BackslashReplace => {
                        for byte in badbyts {
                            out.push_str(&format!("\\x{byte:02x}"));
                        }
                    }
                }
                consumed += good + bad;
                rest = &rest[good + bad..];
            }
        }
    }
}

/// Cuts bytes into lines at `\n`, `\r\n` and `\r`.
#[derive(Default)]
struct LineSplitter {
    pending: Vec<u8>,
    /// The previous piece ended with `\r`: a `\n` starting the next piece belongs to it.
    after_cr: bool,
}

impl LineSplitter {
    /// Feed bytes; complete lines (without their terminator) are pushed to `out`.
    fn feed(&mut self, mut byts: &[u8], out: &mut Vec<Vec<u8>>) {
        if self.after_cr {
            self.after_cr = false;
            if let Some(rest) = byts.strip_prefix(b"\n") {
                byts = rest;
            }
        }
        let mut start = 0;
        let mut i = 0;
        while i < byts.len() {
            match byts[i] {
                b'\n' => {
                    self.emit(&byts[start..i], out);
                    start = i + 1;
                }
                b'\r' => {
                    self.emit(&byts[start..i], out);
                    if i + 1 == byts.len() {
                        self.after_cr = true;
                    } else if byts[i + 1] == b'\n' {
                        i += 1;
                    }
                    start = i + 1;
                }
                _ => {}
            }
            i += 1;
        }
        self.pending.extend_from_slice(&byts[start..]);
    }

    fn emit(&mut self, tail: &[u8], out: &mut Vec<Vec<u8>>) {
        let mut line = std::mem::take(&mut self.pending);
        line.extend_from_slice(tail);
        out.push(line);
    }

    /// The last line, if the input did not end with a line terminator.
    fn finish(&mut self) -> Option<Vec<u8>> {
        if self.pending.is_empty() {
            None
        } else {
            Some(std::mem::take(&mut self.pending))
        }
    }
}

/// Lines of raw bytes, each with a flag telling whether a terminator followed it.
async fn raw_lines(
    axon: &Axon,
    sha256: Sha256,
) -> Result<BoxStream<'static, Result<(Vec<u8>, bool)>>> {
    let pieces = axon.read(&sha256, None, READ_PIECE).await?;
    struct State {
        pieces: Option<BoxStream<'static, Result<Vec<u8>>>>,
        splitter: LineSplitter,
        ready: std::collections::VecDeque<(Vec<u8>, bool)>,
    }
    let state = State {
        pieces: Some(pieces.boxed()),
        splitter: LineSplitter::default(),
        ready: Default::default(),
    };
    Ok(stream::unfold(state, |mut st| async move {
        loop {
            if let Some(line) = st.ready.pop_front() {
                return Some((Ok(line), st));
            }
            let pieces = st.pieces.as_mut()?;
            match pieces.next().await {
                Some(Ok(piece)) => {
                    let mut out = Vec::new();
                    st.splitter.feed(&piece, &mut out);
                    st.ready.extend(out.into_iter().map(|line| (line, true)));
                }
                Some(Err(err)) => {
                    st.pieces = None;
                    return Some((Err(err), st));
                }
                None => {
                    st.pieces = None;
                    if let Some(line) = st.splitter.finish() {
                        st.ready.push_back((line, false));
                    }
                }
            }
        }
    })
    .boxed())
}

/// The lines of a text blob, without their terminators (`readlines`).
pub(crate) async fn readlines(
    axon: &Axon,
    sha256: Sha256,
    errors: &str,
) -> Result<BoxStream<'static, Result<String>>> {
    let errors = Errors::parse(errors)?;
    let lines = raw_lines(axon, sha256).await?;
    Ok(lines
        .map(move |line| line.and_then(|(line, _)| decode(&line, errors)))
        .scan(false, |failed, item| {
            // A decoding error ends the stream.
            if *failed {
                return futures::future::ready(None);
            }
            *failed = item.is_err();
            futures::future::ready(Some(item))
        })
        .boxed())
}

/// Parsed JSON of each non-blank line (`jsonlines`); `hex` names the blob in errors.
pub(crate) fn jsonlines(
    lines: BoxStream<'static, Result<String>>,
    hex: String,
) -> BoxStream<'static, Result<Value>> {
    lines
        .filter_map(move |line| {
            let hex = hex.clone();
            async move {
                let line = match line {
                    Ok(line) => line,
                    Err(err) => return Some(Err(err)),
                };
                let text = line.trim();
                if text.is_empty() {
                    return None;
                }
                Some(match serde_json::from_str::<serde_json::Value>(text) {
                    Ok(json) => Ok(synapse_cell::from_json(&json)),
                    Err(err) => Err(Error::BadJsonText {
                        mesg: format!(
                            "Bad json line encountered while processing {hex}, (BadJsonText: mesg='{err}')"
                        ),
                        sha256: hex,
                    }),
                })
            }
        })
        .scan(false, |failed, item| {
            if *failed {
                return futures::future::ready(None);
            }
            *failed = item.is_err();
            futures::future::ready(Some(item))
        })
        .boxed()
}

/// The CSV rows of a blob (`csvrows`).
pub(crate) async fn csvrows(
    axon: &Axon,
    sha256: Sha256,
    format: Format,
    errors: &str,
) -> Result<BoxStream<'static, Result<Vec<Value>>>> {
    let errors = Errors::parse(errors)?;
    let lines = raw_lines(axon, sha256).await?;
    struct State {
        lines: BoxStream<'static, Result<(Vec<u8>, bool)>>,
        reader: Reader,
        done: bool,
    }
    let state = State {
        lines,
        reader: Reader::new(format),
        done: false,
    };
    Ok(stream::unfold(state, move |mut st| async move {
        if st.done {
            return None;
        }
        loop {
            let item = match st.lines.next().await {
                Some(Ok((line, ended))) => match decode(&line, errors) {
                    Ok(mut text) => {
                        // Python's text layer hands the csv reader lines ending in '\n'.
                        if ended {
                            text.push('\n');
                        }
                        st.reader.feed_line(&text)
                    }
                    Err(err) => Err(err),
                },
                Some(Err(err)) => Err(err),
                None => match st.reader.finish() {
                    Ok(Some(row)) => {
                        st.done = true;
                        return Some((Ok(row), st));
                    }
                    Ok(None) => return None,
                    Err(err) => Err(err),
                },
            };
            match item {
                Ok(Some(row)) => return Some((Ok(row), st)),
                Ok(None) => {}
                Err(err) => {
                    st.done = true;
                    return Some((Err(err), st));
                }
            }
        }
    })
    .boxed())
}

/// The msgpack items of a blob, one after the other (`iterMpkFile`).
pub(crate) async fn mpk_items(
    axon: &Axon,
    sha256: Sha256,
) -> Result<BoxStream<'static, Result<Value>>> {
    let pieces = axon.read(&sha256, None, READ_PIECE).await?;
    struct State {
        pieces: Option<BoxStream<'static, Result<Vec<u8>>>>,
        dec: FrameDecoder,
    }
    let state = State {
        pieces: Some(pieces.boxed()),
        dec: FrameDecoder::new(MPK_MAX_ITEM),
    };
    Ok(stream::unfold(state, |mut st| async move {
        loop {
            match st.dec.next_message() {
                Ok(Some(item)) => return Some((Ok(item), st)),
                Ok(None) => {}
                Err(err) => {
                    let _ended = st.pieces.take()?;
                    return Some((Err(Error::bad_data(format!("Bad msgpack data: {err}"))), st));
                }
            }
            let pieces = st.pieces.as_mut()?;
            match pieces.next().await {
                Some(Ok(piece)) => st.dec.feed(&piece),
                Some(Err(err)) => {
                    st.pieces = None;
                    return Some((Err(err), st));
                }
                // Trailing bytes that do not make a whole item are dropped, as the
                // reference's unpacker does.
                None => return None,
            }
        }
    })
    .boxed())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(pieces: &[&[u8]]) -> Vec<Vec<u8>> {
        let mut splitter = LineSplitter::default();
        let mut out = Vec::new();
        for piece in pieces {
            splitter.feed(piece, &mut out);
        }
        out.extend(splitter.finish());
        out
    }

    #[test]
    fn universal_newlines() {
        let want: Vec<Vec<u8>> = vec![b"a".to_vec(), b"b".to_vec(), b"".to_vec(), b"c".to_vec()];
        assert_eq!(split(&[b"a\nb\r\n\rc"]), want);
        assert_eq!(split(&[b"a\nb\r", b"\n\rc"]), want);
        assert_eq!(split(&[b"a", b"\nb\r", b"\n", b"\r", b"c"]), want);
        assert_eq!(split(&[b"x\n"]), vec![b"x".to_vec()]);
        assert_eq!(split(&[b"x\r"]), vec![b"x".to_vec()]);
        assert!(split(&[b""]).is_empty());
    }

    #[test]
    fn decoding_errors() {
        assert_eq!(decode(b"a\xffb", Errors::Ignore).unwrap(), "ab");
        assert_eq!(decode(b"a\xffb", Errors::Replace).unwrap(), "a\u{fffd}b");
        assert_eq!(
            decode(b"a\xffb", Errors::BackslashReplace).unwrap(),
            "a\\xffb"
        );
        let err = decode(b"\xff", Errors::Strict).unwrap_err();
        assert_eq!(
            err.to_string(),
            "'utf-8' codec can't decode byte 0xff in position 0: invalid start byte"
        );
        let err = decode(b"ab\xe2\x82", Errors::Strict).unwrap_err();
        assert_eq!(err.name(), "BadDataValu");
        assert!(Errors::parse("nope").is_err());
    }
}
