//! A CSV reader with the behaviour of Python 3.11's `csv.reader` (the reference's `csvrows`
//! runs it): the same dialects, format parameters, parsing states, errors and quirks (blank
//! lines give empty rows, `QUOTE_NONNUMERIC` turns unquoted fields into floats).

use rmpv::Value;

use crate::error::{Error, Result};

/// Python's default `csv.field_size_limit()`.
const FIELD_LIMIT: usize = 128 * 1024;

/// `csv.QUOTE_*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quoting {
    Minimal,
    All,
    NonNumeric,
    None,
}

/// A dialect with its format parameters applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Format {
    delimiter: char,
    quotechar: Option<char>,
    escapechar: Option<char>,
    doublequote: bool,
    skipinitialspace: bool,
    quoting: Quoting,
    strict: bool,
}

const DIALECTS: [&str; 3] = ["excel", "excel-tab", "unix"];

fn fmt_error(mesg: impl std::fmt::Display) -> Error {
    Error::bad_arg(format!("Invalid csv format parameter: {mesg}"))
}

fn py_truthy(valu: &Value) -> bool {
    synapse_cell::truthy(valu)
}

fn char_param(name: &str, valu: &Value, nullable: bool) -> Result<Option<char>> {
    match valu {
        Value::Nil if nullable => Ok(None),
        Value::String(s) => {
            let text = s.as_str().unwrap_or_default();
            let mut chars = text.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => Ok(Some(c)),
                _ => Err(fmt_error(format!(
                    "\"{name}\" must be a 1-character string"
                ))),
            }
        }
        other => Err(fmt_error(format!(
            "\"{name}\" must be string, not {}",
            crate::service::py_type(other)
        ))),
    }
}

impl Format {
    /// The dialect `dialect` with Python's `**fmtparams` applied.
    pub(crate) fn new(dialect: &str, fmtparams: &[(String, Value)]) -> Result<Format> {
        if !DIALECTS.contains(&dialect) {
            return Err(Error::bad_arg(
                "Invalid CSV dialect, use one of ['excel', 'excel-tab', 'unix']",
            ));
        }
        let mut fmt = Format {
            delimiter: if dialect == "excel-tab" { '\t' } else { ',' },
            quotechar: Some('"'),
            escapechar: None,
            doublequote: true,
            skipinitialspace: false,
            quoting: if dialect == "unix" {
                Quoting::All
            } else {
                Quoting::Minimal
            },
            strict: false,
        };
        let mut lineterminator = true;
        for (name, valu) in fmtparams {
            match name.as_str() {
                "delimiter" => {
                    fmt.delimiter = char_param(name, valu, false)?.unwrap_or(',');
                }
                "quotechar" => fmt.quotechar = char_param(name, valu, true)?,
                "escapechar" => fmt.escapechar = char_param(name, valu, true)?,
                "doublequote" => fmt.doublequote = py_truthy(valu),
                "skipinitialspace" => fmt.skipinitialspace = py_truthy(valu),
                "strict" => fmt.strict = py_truthy(valu),
                "lineterminator" => match valu {
                    Value::Nil => lineterminator = false,
                    Value::String(_) => {}
                    _ => return Err(fmt_error("\"lineterminator\" must be a string")),
                },
                "quoting" => {
                    let code = match valu {
                        Value::Integer(i) => i.as_i64(),
                        Value::Boolean(b) => Some(i64::from(*b)),
                        _ => return Err(fmt_error("\"quoting\" must be an integer")),
                    };
                    fmt.quoting = match code {
                        Some(0) => Quoting::Minimal,
                        Some(1) => Quoting::All,
                        Some(2) => Quoting::NonNumeric,
                        Some(3) => Quoting::None,
                        _ => return Err(fmt_error("bad \"quoting\" value")),
                    };
                }
                other => {
                    return Err(fmt_error(format!(
                        "'{other}' is an invalid keyword argument for this function"
                    )));
                }
            }
        }
        if fmt.quoting != Quoting::None && fmt.quotechar.is_none() {
            return Err(fmt_error("quotechar must be set if quoting enabled"));
        }
        if !lineterminator {
            return Err(fmt_error("lineterminator must be set"));
        }
        Ok(fmt)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    StartRecord,
    StartField,
    EscapedChar,
    InField,
    InQuotedField,
    EscapeInQuotedField,
    QuoteInQuotedField,
    EatCrnl,
    AfterEscapedCrnl,
}

/// One input symbol: a character or the end of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sym {
    Char(char),
    Eol,
}

/// The reader: feed it lines (with their `\n`), get rows.
#[derive(Debug)]
pub(crate) struct Reader {
    fmt: Format,
    state: State,
    fields: Vec<Value>,
    field: String,
    field_len: usize,
    numeric: bool,
}

fn csv_error(mesg: impl std::fmt::Display) -> Error {
    Error::bad_data(format!("CSV error: {mesg}"))
}

impl Reader {
    pub(crate) fn new(fmt: Format) -> Self {
        Self {
            fmt,
            state: State::StartRecord,
            fields: Vec::new(),
            field: String::new(),
            field_len: 0,
            numeric: false,
        }
    }

    fn save_field(&mut self) -> Result<()> {
        let text = std::mem::take(&mut self.field);
        self.field_len = 0;
        let valu = if self.numeric {
            self.numeric = false;
            match text.trim().replace('_', "").parse::<f64>() {
                Ok(num) => Value::F64(num),
                Err(_) => {
                    return Err(Error::Python {
                        name: "ValueError",
                        mesg: format!("could not convert string to float: '{text}'"),
                    });
                }
            }
        } else {
            Value::from(text)
        };
        self.fields.push(valu);
        Ok(())
    }

    fn add_char(&mut self, c: char) -> Result<()> {
        if self.field_len >= FIELD_LIMIT {
            return Err(csv_error(format!(
                "field larger than field limit ({FIELD_LIMIT})"
            )));
        }
        self.field.push(c);
        self.field_len += 1;
        Ok(())
    }

    fn end_of_line(&mut self, sym: Sym) -> Result<()> {
        self.save_field()?;
        self.state = if sym == Sym::Eol {
            State::StartRecord
        } else {
            State::EatCrnl
        };
        Ok(())
    }

    fn process(&mut self, sym: Sym) -> Result<()> {
        let fmt = self.fmt.clone();
        let is = |c: Option<char>| matches!(sym, Sym::Char(s) if Some(s) == c);
        let is_nl = matches!(sym, Sym::Char('\n' | '\r'));
        let quote = fmt.quoting != Quoting::None && is(fmt.quotechar);
        let escape = is(fmt.escapechar);
        let delim = is(Some(fmt.delimiter));
        match self.state {
            State::StartRecord => {
                if sym == Sym::Eol {
                    return Ok(());
                }
                if is_nl {
                    self.state = State::EatCrnl;
                    return Ok(());
                }
                self.state = State::StartField;
                self.start_field(sym, is_nl, quote, escape, delim)
            }
            State::StartField => self.start_field(sym, is_nl, quote, escape, delim),
            State::EscapedChar => {
                if let (true, Sym::Char(c)) = (is_nl, sym) {
                    self.add_char(c)?;
                    self.state = State::AfterEscapedCrnl;
                    return Ok(());
                }
                let c = match sym {
                    Sym::Char(c) => c,
                    Sym::Eol => '\n',
                };
                self.add_char(c)?;
                self.state = State::InField;
                Ok(())
            }
            State::AfterEscapedCrnl if sym == Sym::Eol => Ok(()),
            State::AfterEscapedCrnl | State::InField => {
                if is_nl || sym == Sym::Eol {
                    self.end_of_line(sym)
                } else if escape {
                    self.state = State::EscapedChar;
                    Ok(())
                } else if delim {
                    self.save_field()?;
                    self.state = State::StartField;
                    Ok(())
                } else {
                    if let Sym::Char(c) = sym {
                        self.add_char(c)?;
                    }
                    self.state = State::InField;
                    Ok(())
                }
            }
            State::InQuotedField => {
                match sym {
                    Sym::Eol => {}
                    _ if escape => self.state = State::EscapeInQuotedField,
                    _ if quote => {
                        self.state = if fmt.doublequote {
                            State::QuoteInQuotedField
                        } else {
                            State::InField
                        };
                    }
                    Sym::Char(c) => self.add_char(c)?,
                }
                Ok(())
            }
            State::EscapeInQuotedField => {
                let c = match sym {
                    Sym::Char(c) => c,
                    Sym::Eol => '\n',
                };
                self.add_char(c)?;
                self.state = State::InQuotedField;
                Ok(())
            }
            State::QuoteInQuotedField => {
                if quote {
                    if let Sym::Char(c) = sym {
                        self.add_char(c)?;
                    }
                    self.state = State::InQuotedField;
                    Ok(())
                } else if delim {
                    self.save_field()?;
                    self.state = State::StartField;
                    Ok(())
                } else if is_nl || sym == Sym::Eol {
                    self.end_of_line(sym)
                } else if !fmt.strict {
                    if let Sym::Char(c) = sym {
                        self.add_char(c)?;
                    }
                    self.state = State::InField;
                    Ok(())
                } else {
                    Err(csv_error(format!(
                        "'{}' expected after '{}'",
                        fmt.delimiter,
                        fmt.quotechar.unwrap_or('"')
                    )))
                }
            }
            State::EatCrnl => {
                if is_nl {
                    Ok(())
                } else if sym == Sym::Eol {
                    self.state = State::StartRecord;
                    Ok(())
                } else {
                    Err(csv_error(
                        "new-line character seen in unquoted field - do you need to open the file with newline=''?",
                    ))
                }
            }
        }
    }

    fn start_field(
        &mut self,
        sym: Sym,
        is_nl: bool,
        quote: bool,
        escape: bool,
        delim: bool,
    ) -> Result<()> {
        if is_nl || sym == Sym::Eol {
            return self.end_of_line(sym);
        }
        if quote {
            self.state = State::InQuotedField;
        } else if escape {
            self.state = State::EscapedChar;
        } else if sym == Sym::Char(' ') && self.fmt.skipinitialspace {
        } else if delim {
            self.save_field()?;
        } else {
            if self.fmt.quoting == Quoting::NonNumeric {
                self.numeric = true;
            }
            if let Sym::Char(c) = sym {
                self.add_char(c)?;
            }
            self.state = State::InField;
        }
        Ok(())
    }

    /// Feed one line (with its trailing `\n` if it had one): a row once a record is complete.
    pub(crate) fn feed_line(&mut self, line: &str) -> Result<Option<Vec<Value>>> {
        for c in line.chars() {
            if c == '\0' {
                return Err(csv_error("line contains NUL"));
            }
            self.process(Sym::Char(c))?;
        }
        self.process(Sym::Eol)?;
        if self.state == State::StartRecord {
            self.field.clear();
            self.field_len = 0;
            self.numeric = false;
            return Ok(Some(std::mem::take(&mut self.fields)));
        }
        Ok(None)
    }

    /// The end of the input: the last row if a record was left open.
    pub(crate) fn finish(&mut self) -> Result<Option<Vec<Value>>> {
        if self.field_len != 0 || self.state == State::InQuotedField {
            if self.fmt.strict {
                return Err(csv_error("unexpected end of data"));
            }
            self.save_field()?;
            self.state = State::StartRecord;
            return Ok(Some(std::mem::take(&mut self.fields)));
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(text: &str, dialect: &str, params: &[(&str, Value)]) -> Result<Vec<Vec<Value>>> {
        let params: Vec<(String, Value)> = params
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        let mut reader = Reader::new(Format::new(dialect, &params)?);
        let mut out = Vec::new();
        let mut lines: Vec<String> = text.split_inclusive('\n').map(str::to_string).collect();
        if lines.is_empty() {
            lines.push(String::new());
        }
        for line in lines.iter().filter(|l| !l.is_empty()) {
            if let Some(row) = reader.feed_line(line)? {
                out.push(row);
            }
        }
        out.extend(reader.finish()?);
        Ok(out)
    }

    fn strs(rows: Vec<Vec<Value>>) -> Vec<Vec<String>> {
        rows.into_iter()
            .map(|r| {
                r.into_iter()
                    .map(|v| v.as_str().unwrap_or("?").to_string())
                    .collect()
            })
            .collect()
    }

    #[test]
    fn excel_basics() {
        // Verified against the reference: a,b / 1,"2,3".
        assert_eq!(
            strs(rows("a,b\n1,\"2,3\"\n", "excel", &[]).unwrap()),
            vec![vec!["a", "b"], vec!["1", "2,3"]]
        );
        // Blank lines are empty rows; quoted newlines stay in the field.
        assert_eq!(
            strs(rows("a\n\n\"x\ny\",\"q\"\"q\"\nlast", "excel", &[]).unwrap()),
            vec![vec!["a"], vec![], vec!["x\ny", "q\"q"], vec!["last"]]
        );
        assert_eq!(
            strs(rows("a\tb\n", "excel-tab", &[]).unwrap()),
            vec![vec!["a", "b"]]
        );
        assert_eq!(
            strs(
                rows(
                    "a; b\n",
                    "excel",
                    &[("delimiter", ";".into()), ("skipinitialspace", true.into())]
                )
                .unwrap()
            ),
            vec![vec!["a", "b"]]
        );
        assert_eq!(
            strs(rows("a\\,b,c\n", "excel", &[("escapechar", "\\".into())]).unwrap()),
            vec![vec!["a,b", "c"]]
        );
    }

    #[test]
    fn nonnumeric_and_errors() {
        let got = rows("1,\"x\"\n", "excel", &[("quoting", 2.into())]).unwrap();
        assert_eq!(got, vec![vec![Value::F64(1.0), Value::from("x")]]);
        let err = rows("abc\n", "excel", &[("quoting", 2.into())]).unwrap_err();
        assert_eq!(err.name(), "ValueError");
        let err = rows("\"a\"b\n", "excel", &[("strict", true.into())]).unwrap_err();
        assert_eq!(err.to_string(), "CSV error: ',' expected after '\"'");
        assert_eq!(
            strs(rows("\"a\"b\n", "excel", &[]).unwrap()),
            vec![vec!["ab"]]
        );
        let err = rows("\"open", "excel", &[("strict", true.into())]).unwrap_err();
        assert_eq!(err.to_string(), "CSV error: unexpected end of data");
        assert_eq!(
            strs(rows("\"open", "excel", &[]).unwrap()),
            vec![vec!["open"]]
        );
        let err = rows("a\0\n", "excel", &[]).unwrap_err();
        assert_eq!(err.to_string(), "CSV error: line contains NUL");
    }

    #[test]
    fn format_errors() {
        let bad = |params: &[(&str, Value)]| {
            let params: Vec<(String, Value)> = params
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect();
            Format::new("excel", &params).unwrap_err().to_string()
        };
        assert_eq!(
            bad(&[("delimiter", "ab".into())]),
            "Invalid csv format parameter: \"delimiter\" must be a 1-character string"
        );
        assert_eq!(
            bad(&[("delimiter", 1.into())]),
            "Invalid csv format parameter: \"delimiter\" must be string, not int"
        );
        assert_eq!(
            bad(&[("quoting", 9.into())]),
            "Invalid csv format parameter: bad \"quoting\" value"
        );
        assert_eq!(
            bad(&[("quotechar", Value::Nil)]),
            "Invalid csv format parameter: quotechar must be set if quoting enabled"
        );
        assert_eq!(
            bad(&[("foo", 1.into())]),
            "Invalid csv format parameter: 'foo' is an invalid keyword argument for this function"
        );
        assert_eq!(
            Format::new("nope", &[]).unwrap_err().to_string(),
            "Invalid CSV dialect, use one of ['excel', 'excel-tab', 'unix']"
        );
    }
}
