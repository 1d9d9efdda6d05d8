//! Python `struct` formats, for the Axon's `unpack(sha256, fmt, offs)`: parsing with the
//! reference's sizes and alignment (x86-64 Linux for native `@` formats), and unpacking.

use rmpv::Value;

use crate::error::{Error, Result};

/// The most bytes one `unpack` may read (the reference's limit, 1 MiB).
pub const MAX_UNPACK: usize = 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Order {
    /// `@`: native order, sizes and alignment.
    Native,
    /// `=`: native (little-endian) order, standard sizes.
    Little,
    /// `>` / `!`.
    Big,
}

#[derive(Debug, Clone, Copy)]
struct Item {
    code: u8,
    count: usize,
    offs: usize,
    size: usize,
}

/// A parsed format.
#[derive(Debug, Clone)]
pub(crate) struct Format {
    text: String,
    order: Order,
    items: Vec<Item>,
    size: usize,
}

fn struct_error(fmt: &str, mesg: &str) -> Error {
    Error::bad_arg(format!("Failed to unpack bytes with format {fmt}: {mesg}"))
}

/// `(size, alignment)` of a code, `None` if the code is not valid in this mode.
fn code_size(code: u8, order: Order) -> Option<(usize, usize)> {
    let native = order == Order::Native;
    let size = match code {
        b'x' | b'c' | b'b' | b'B' | b'?' | b's' | b'p' => 1,
        b'h' | b'H' | b'e' => 2,
        b'i' | b'I' | b'f' => 4,
        b'l' | b'L' => {
            if native {
                8
            } else {
                4
            }
        }
        b'q' | b'Q' | b'd' => 8,
        b'n' | b'N' | b'P' if native => 8,
        _ => return None,
    };
    Some((size, if native { size } else { 1 }))
}

impl Format {
    /// Parse a format as `struct.calcsize` does; errors are the reference's `BadArg`s.
    pub(crate) fn parse(text: &str) -> Result<Format> {
        let byts = text.as_bytes();
        let (order, mut pos) = match byts.first() {
            Some(b'@') => (Order::Native, 1),
            Some(b'=' | b'<') => (Order::Little, 1),
            Some(b'>' | b'!') => (Order::Big, 1),
            _ => (Order::Native, 0),
        };
        let mut items = Vec::new();
        let mut size: usize = 0;
        let too_long = || struct_error(text, "total struct size too long");
        while pos < byts.len() {
            let mut c = byts[pos];
            pos += 1;
            if c.is_ascii_whitespace() {
                continue;
            }
            let count = if c.is_ascii_digit() {
                let mut num = usize::from(c - b'0');
                loop {
                    let Some(&next) = byts.get(pos) else {
                        return Err(struct_error(
                            text,
                            "repeat count given without format specifier",
                        ));
                    };
                    pos += 1;
                    if next.is_ascii_digit() {
                        num = num
                            .checked_mul(10)
                            .and_then(|n| n.checked_add(usize::from(next - b'0')))
                            .ok_or_else(too_long)?;
                    } else {
                        c = next;
                        break;
                    }
                }
                num
            } else {
                1
            };
            let Some((itemsize, align)) = code_size(c, order) else {
                return Err(struct_error(text, "bad char in struct format"));
            };
            if align > 1 {
                size = size.checked_next_multiple_of(align).ok_or_else(too_long)?;
            }
            let total = if matches!(c, b's' | b'p') {
                count
            } else {
                count.checked_mul(itemsize).ok_or_else(too_long)?
            };
            items.push(Item {
                code: c,
                count,
                offs: size,
                size: itemsize,
            });
            size = size.checked_add(total).ok_or_else(too_long)?;
        }
        if size > MAX_UNPACK {
            return Err(Error::bad_arg(format!(
                "Struct format would read too much data: {size} bytes"
            ))
            .with("size", size as u64));
        }
        Ok(Format {
            text: text.to_string(),
            order,
            items,
            size,
        })
    }

    /// The number of bytes the format reads.
    pub(crate) fn size(&self) -> usize {
        self.size
    }

    /// Unpack exactly [`Format::size`] bytes.
    pub(crate) fn unpack(&self, byts: &[u8]) -> Result<Vec<Value>> {
        if byts.len() != self.size {
            return Err(struct_error(
                &self.text,
                &format!("unpack requires a buffer of {} bytes", self.size),
            ));
        }
        let big = self.order == Order::Big;
        let uint = |raw: &[u8]| -> u64 {
            let mut buf = [0u8; 8];
            if big {
                buf[8 - raw.len()..].copy_from_slice(raw);
                u64::from_be_bytes(buf)
            } else {
                buf[..raw.len()].copy_from_slice(raw);
                u64::from_le_bytes(buf)
            }
        };
        let int = |raw: &[u8]| -> i64 {
            let bits = 64 - 8 * raw.len() as u32;
            ((uint(raw) << bits) as i64) >> bits
        };
        let mut out = Vec::new();
        for item in &self.items {
            match item.code {
                b'x' => {}
                b's' => out.push(Value::Binary(
                    byts[item.offs..item.offs + item.count].to_vec(),
                )),
                b'p' => {
                    if item.count == 0 {
                        out.push(Value::Binary(Vec::new()));
                        continue;
                    }
                    let field = &byts[item.offs..item.offs + item.count];
                    let len = usize::from(field[0]).min(item.count - 1);
                    out.push(Value::Binary(field[1..1 + len].to_vec()));
                }
                code => {
                    for indx in 0..item.count {
                        let start = item.offs + indx * item.size;
                        let raw = &byts[start..start + item.size];
                        out.push(match code {
                            b'c' => Value::Binary(raw.to_vec()),
                            b'?' => Value::Boolean(raw[0] != 0),
                            b'b' | b'h' | b'i' | b'l' | b'q' | b'n' => Value::from(int(raw)),
                            b'e' => Value::F64(half_to_f64(uint(raw) as u16)),
                            b'f' => Value::F64(f64::from(f32::from_bits(uint(raw) as u32))),
                            b'd' => Value::F64(f64::from_bits(uint(raw))),
                            _ => Value::from(uint(raw)),
                        });
                    }
                }
            }
        }
        Ok(out)
    }
}

/// IEEE 754 half precision to double.
fn half_to_f64(bits: u16) -> f64 {
    let sign = if bits & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = i32::from((bits >> 10) & 0x1f);
    let frac = f64::from(bits & 0x3ff);
    match exp {
        0 => sign * frac * 2f64.powi(-24),
        0x1f if frac == 0.0 => sign * f64::INFINITY,
        0x1f => f64::NAN,
        _ => sign * (1.0 + frac / 1024.0) * 2f64.powi(exp - 15),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_match_calcsize() {
        // struct.calcsize on the reference's Python (x86-64 Linux).
        for (fmt, size) in [
            (">I", 4),
            ("@bi", 8),
            ("=bi", 5),
            ("<q", 8),
            ("@l", 8),
            ("<l", 4),
            ("10s", 10),
            ("3x2h", 8),
            ("@ci", 8),
            ("@hq", 16),
            ("", 0),
            ("4p", 4),
            ("? e", 4),
        ] {
            assert_eq!(Format::parse(fmt).unwrap().size(), size, "{fmt}");
        }
    }

    #[test]
    fn unpacking() {
        // Verified: unpack(sha('asdfasdf'), '>I', offs=2) -> (1684431219,).
        let fmt = Format::parse(">I").unwrap();
        assert_eq!(
            fmt.unpack(b"dfas").unwrap(),
            vec![Value::from(1684431219u64)]
        );
        let fmt = Format::parse("<hH2s?c").unwrap();
        let got = fmt
            .unpack(&[0xff, 0xff, 0xff, 0xff, b'a', b'b', 1, b'z'])
            .unwrap();
        assert_eq!(
            got,
            vec![
                Value::from(-1),
                Value::from(65535u64),
                Value::Binary(b"ab".to_vec()),
                Value::Boolean(true),
                Value::Binary(b"z".to_vec())
            ]
        );
        let fmt = Format::parse(">d").unwrap();
        assert_eq!(
            fmt.unpack(&1.5f64.to_be_bytes()).unwrap(),
            vec![Value::F64(1.5)]
        );
        let fmt = Format::parse("<e").unwrap();
        assert_eq!(fmt.unpack(&[0x00, 0x3c]).unwrap(), vec![Value::F64(1.0)]);
        let fmt = Format::parse("3p").unwrap();
        assert_eq!(
            fmt.unpack(&[5, b'x', b'y']).unwrap(),
            vec![Value::Binary(b"xy".to_vec())]
        );
    }

    #[test]
    fn errors() {
        let err = Format::parse("Z").unwrap_err();
        assert_eq!(
            err.to_string(),
            "Failed to unpack bytes with format Z: bad char in struct format"
        );
        let err = Format::parse("<n").unwrap_err();
        assert!(err.to_string().ends_with("bad char in struct format"));
        let err = Format::parse("12").unwrap_err();
        assert!(
            err.to_string()
                .ends_with("repeat count given without format specifier")
        );
        let err = Format::parse("2000000s").unwrap_err();
        assert_eq!(
            err.to_string(),
            "Struct format would read too much data: 2000000 bytes"
        );
    }
}
