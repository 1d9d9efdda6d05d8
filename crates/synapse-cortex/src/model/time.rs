//! Time parsing and rendering for epoch-millisecond values, as the reference's `lib/time.py`.
//!
//! Accepted layouts: digit runs of 4/6/8/10/12/14/15-20 digits after removing every non-digit
//! (`2020`, `2020-01`, `2020/01/02 03:04:05.123`, `20200102T030405Z`...), RFC 822 dates
//! (`Tue, 2 Jan 2020 03:04:05`), timezone suffixes (`+01:00`, `-0500`, `EST`, `Z`...),
//! `now`, `?` (the future marker) and relative deltas (`-1 day`, `+3 hours`, `2020 +1 day`).

use std::cell::Cell;
use std::sync::LazyLock;

use regex::Regex;

/// One second in milliseconds.
pub const ONESEC: i64 = 1000;
/// One minute in milliseconds.
pub const ONEMIN: i64 = 60_000;
/// One hour in milliseconds.
pub const ONEHOUR: i64 = 3_600_000;
/// One day in milliseconds.
pub const ONEDAY: i64 = 86_400_000;
/// The "unknown future" marker.
pub const FUTURE: i64 = 0x7fff_ffff_ffff_ffff;
/// The largest real time value (9999/12/31 23:59:59.999).
pub const MAXTIME: i64 = 253_402_300_799_999;

const TIMEUNITS: &[(&str, i64)] = &[
    ("sec", ONESEC),
    ("secs", ONESEC),
    ("seconds", ONESEC),
    ("min", ONEMIN),
    ("mins", ONEMIN),
    ("minute", ONEMIN),
    ("minutes", ONEMIN),
    ("hour", ONEHOUR),
    ("hours", ONEHOUR),
    ("day", ONEDAY),
    ("days", ONEDAY),
];

const TIMEZONES: &[(&str, i64)] = &[
    ("A", -ONEHOUR),
    ("CDT", -5 * ONEHOUR),
    ("CST", -6 * ONEHOUR),
    ("EDT", -4 * ONEHOUR),
    ("EST", -5 * ONEHOUR),
    ("GMT", 0),
    ("M", -12 * ONEHOUR),
    ("MDT", -6 * ONEHOUR),
    ("MST", -7 * ONEHOUR),
    ("N", ONEHOUR),
    ("PDT", -7 * ONEHOUR),
    ("PST", -8 * ONEHOUR),
    ("UT", 0),
    ("UTC", 0),
    ("Y", 12 * ONEHOUR),
    ("Z", 0),
];

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

fn sorted_by_len_desc(names: &[&str]) -> Vec<String> {
    let mut names: Vec<&str> = names.to_vec();
    // Python's sorted(reverse=True) is stable: equal lengths keep their original order.
    names.sort_by_key(|n| std::cmp::Reverse(n.len()));
    names.iter().map(|n| regex::escape(n)).collect()
}

static TZ_RE: LazyLock<Option<Regex>> = LazyLock::new(|| {
    let tzcat =
        sorted_by_len_desc(&TIMEZONES.iter().map(|(n, _)| *n).collect::<Vec<_>>()).join("|");
    let unitcat =
        sorted_by_len_desc(&TIMEUNITS.iter().map(|(n, _)| *n).collect::<Vec<_>>()).join("|");
    let pat = format!(
        r"(?i)\d(?P<tzstr>\s?(?:(?P<tzname>{tzcat})|(?:(?P<tzrel>\-|\+)(?P<tzhr>\d{{1,2}}):?(?P<tzmin>\d{{2}}))))(?:[\-|\+]\d+(?:{unitcat}))?$"
    );
    Regex::new(&pat).ok()
});

static RFC822_RE: LazyLock<Option<Regex>> = LazyLock::new(|| {
    let days = "mon|tue|wed|thu|fri|sat|sun";
    let months = MONTHS.join("|");
    Regex::new(&format!(
        r"^((?:{days}),)?\d{{1,2}}(?:{months})\d{{4}}\d{{2}}:\d{{2}}:\d{{2}}"
    ))
    .ok()
});

thread_local! {
    static FIXED_NOW: Cell<Option<i64>> = const { Cell::new(None) };
}

/// Pin "now" for the current thread (tests and replays); `None` restores the wall clock.
pub fn set_fixed_now(now: Option<i64>) {
    FIXED_NOW.with(|c| c.set(now));
}

/// The current time in epoch milliseconds (or the pinned time, see [`set_fixed_now`]).
pub fn now() -> i64 {
    if let Some(now) = FIXED_NOW.with(Cell::get) {
        return now;
    }
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// An error message from time parsing (becomes `BadTypeValu`).
pub(crate) type TimeResult<T> = Result<T, String>;

/// Split a timezone suffix off `text`: the remaining text and the offset to add (ms).
pub(crate) fn parsetz(text: &str) -> TimeResult<(String, i64)> {
    let Some(re) = TZ_RE.as_ref() else {
        return Ok((text.to_string(), 0));
    };
    let Some(caps) = re.captures(text) else {
        return Ok((text.to_string(), 0));
    };
    let tzstr = caps.name("tzstr").map(|m| m.as_str()).unwrap_or_default();
    let base = if let Some(rel) = caps.name("tzrel") {
        let hr: i64 = caps
            .name("tzhr")
            .and_then(|m| m.as_str().parse().ok())
            .unwrap_or(0);
        let mn: i64 = caps
            .name("tzmin")
            .and_then(|m| m.as_str().parse().ok())
            .unwrap_or(0);
        let mut base = ONEHOUR * hr + ONEMIN * mn;
        if rel.as_str() == "+" {
            base = -base;
        }
        if base.abs() >= ONEDAY {
            return Err(format!(
                "Timezone offset must be between +/- 24 hours for {text}"
            ));
        }
        base
    } else {
        let name = caps
            .name("tzname")
            .map(|m| m.as_str().to_uppercase())
            .unwrap_or_default();
        let off = TIMEZONES.iter().find(|(n, _)| *n == name).map(|(_, o)| *o);
        match off {
            Some(off) => -off,
            None => return Err(format!("Unknown timezone for {text}")),
        }
    };
    Ok((text.replacen(tzstr, "", 1), base))
}

/// A broken-down UTC time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DateTime {
    pub(crate) year: i64,
    pub(crate) month: i64,
    pub(crate) day: i64,
    pub(crate) hour: i64,
    pub(crate) minute: i64,
    pub(crate) second: i64,
    pub(crate) micro: i64,
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

impl DateTime {
    fn total_micros(&self) -> i128 {
        let days = i128::from(days_from_civil(self.year, self.month, self.day));
        let secs = days * 86400 + i128::from(self.hour * 3600 + self.minute * 60 + self.second);
        secs * 1_000_000 + i128::from(self.micro)
    }

    /// `int((dt - EPOCH).total_seconds() * 1000 + base)` with Python's float arithmetic.
    fn epoch_millis(&self, base: i64) -> i64 {
        let secs = div_round(self.total_micros(), 1_000_000);
        let ms = secs * 1000.0 + base as f64;
        ms.trunc() as i64
    }

    fn from_millis(tick: i64) -> DateTime {
        let days = tick.div_euclid(ONEDAY);
        let rem = tick.rem_euclid(ONEDAY);
        let (year, month, day) = civil_from_days(days);
        DateTime {
            year,
            month,
            day,
            hour: rem / ONEHOUR,
            minute: (rem % ONEHOUR) / ONEMIN,
            second: (rem % ONEMIN) / ONESEC,
            micro: (rem % ONESEC) * 1000,
        }
    }

    fn add_months(&self, n: i64) -> DateTime {
        let total = self.year * 12 + (self.month - 1) + n;
        let year = total.div_euclid(12);
        let month = total.rem_euclid(12) + 1;
        let day = self.day.min(days_in_month(year, month));
        DateTime {
            year,
            month,
            day,
            ..*self
        }
    }
}

/// The f64 nearest to `num / den` (ties to even), as Python's int true division.
fn div_round(num: i128, den: i128) -> f64 {
    let approx = num as f64 / den as f64;
    if num.unsigned_abs() < (1u128 << 53) {
        return approx;
    }
    // Check the neighbours of the approximation exactly.
    let mut best = approx;
    let mut best_err: Option<(i128, i128)> = None;
    let mut cand = approx;
    for _ in 0..2 {
        cand = f64::from_bits(cand.to_bits().wrapping_sub(1));
    }
    for _ in 0..5 {
        if let Some(err) = exact_err(cand, num, den) {
            let better = match best_err {
                None => true,
                Some(b) => {
                    // Compare |err| as rationals with a common power-of-two denominator.
                    let (en, ed) = err;
                    let (bn, bd) = b;
                    let lhs = en.unsigned_abs().checked_mul(bd.unsigned_abs());
                    let rhs = bn.unsigned_abs().checked_mul(ed.unsigned_abs());
                    match (lhs, rhs) {
                        (Some(l), Some(r)) => l < r || (l == r && cand.to_bits().is_multiple_of(2)),
                        _ => false,
                    }
                }
            };
            if better {
                best = cand;
                best_err = Some(err);
            }
        }
        cand = f64::from_bits(cand.to_bits().wrapping_add(1));
    }
    best
}

/// `cand * den - num` as an exact rational `(numerator, denominator)`.
fn exact_err(cand: f64, num: i128, den: i128) -> Option<(i128, i128)> {
    if !cand.is_finite() {
        return None;
    }
    let bits = cand.to_bits();
    let sign: i128 = if bits >> 63 == 1 { -1 } else { 1 };
    let exp = ((bits >> 52) & 0x7ff) as i32;
    let frac = (bits & ((1u64 << 52) - 1)) as i128;
    let (mant, e) = if exp == 0 {
        (frac, -1074)
    } else {
        (frac | (1 << 52), exp - 1075)
    };
    let mant = sign * mant;
    if e >= 0 {
        let v = mant.checked_mul(1i128.checked_shl(e as u32)?)?;
        Some((v.checked_mul(den)?.checked_sub(num)?, 1))
    } else {
        let shift = (-e) as u32;
        if shift > 100 {
            return None;
        }
        let d = 1i128 << shift;
        Some((mant.checked_mul(den)?.checked_sub(num.checked_mul(d)?)?, d))
    }
}

/// Match `text` against a strptime digit format, as CPython's `_strptime` does.
fn strptime(text: &str, fmt: &str) -> TimeResult<DateTime> {
    let mut pat = String::from("^");
    let mut chars = fmt.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            pat.push_str(&regex::escape(&c.to_string()));
            continue;
        }
        let d = chars.next().unwrap_or('%');
        pat.push_str(match d {
            'Y' => r"(?P<Y>\d\d\d\d)",
            'm' => r"(?P<m>1[0-2]|0[1-9]|[1-9])",
            'd' => r"(?P<d>3[01]|[12]\d|0[1-9]|[1-9]| [1-9])",
            'H' => r"(?P<H>2[0-3]|[0-1]\d|\d)",
            'M' => r"(?P<M>[0-5]\d|\d)",
            'S' => r"(?P<S>6[0-1]|[0-5]\d|\d)",
            'f' => r"(?P<f>[0-9]{1,6})",
            'b' => r"(?P<b>jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)",
            _ => "",
        });
    }
    let re = Regex::new(&format!("(?i){pat}")).map_err(|e| e.to_string())?;
    let Some(caps) = re.captures(text) else {
        return Err(format!(
            "time data {} does not match format {}",
            repr_s(text),
            repr_s(fmt)
        ));
    };
    let end = caps.get(0).map(|m| m.end()).unwrap_or(0);
    if end != text.len() {
        return Err(format!("unconverted data remains: {}", &text[end..]));
    }
    let num = |name: &str, dflt: i64| -> i64 {
        caps.name(name)
            .and_then(|m| m.as_str().trim().parse::<i64>().ok())
            .unwrap_or(dflt)
    };
    let month = match caps.name("b") {
        Some(m) => {
            let low = m.as_str().to_ascii_lowercase();
            MONTHS
                .iter()
                .position(|x| *x == low)
                .map(|i| i as i64 + 1)
                .unwrap_or(1)
        }
        None => num("m", 1),
    };
    let micro = match caps.name("f") {
        Some(f) => {
            let mut s = f.as_str().to_string();
            while s.len() < 6 {
                s.push('0');
            }
            s.parse::<i64>().unwrap_or(0)
        }
        None => 0,
    };
    let dt = DateTime {
        year: num("Y", 1900),
        month,
        day: num("d", 1),
        hour: num("H", 0),
        minute: num("M", 0),
        second: num("S", 0),
        micro,
    };
    if dt.year < 1 {
        return Err(format!("year {} is out of range", dt.year));
    }
    if dt.second > 59 {
        return Err("second must be in 0..59".into());
    }
    if dt.day > days_in_month(dt.year, dt.month) {
        return Err("day is out of range for month".into());
    }
    Ok(dt)
}

fn repr_s(text: &str) -> String {
    super::value::py_repr_str(text)
}

/// The reference's `_rawparse`: (datetime, base, digit count).
fn rawparse(otext: &str, base: Option<i64>, chop: bool) -> TimeResult<(DateTime, i64, usize)> {
    let mut text: String = super::value::py_lower(super::value::py_strip(otext)).replace(' ', "");
    let mut parsed_tz = false;
    let base = match base {
        Some(b) => b,
        None => {
            let (t, b) = parsetz(&text)?;
            text = t;
            parsed_tz = b != 0;
            b
        }
    };

    if let Some(re) = RFC822_RE.as_ref()
        && let Some(caps) = re.captures(&text)
    {
        if let Some(grp) = caps.get(1) {
            text = text.replacen(grp.as_str(), "", 1);
        }
        return match strptime(&text, "%d%b%Y%H:%M:%S") {
            Ok(dt) => Ok((dt, base, text.len())),
            Err(e) => Err(format!("Error parsing time as RFC822 \"{otext}\"; {e}")),
        };
    }

    let mut digits: String = text.chars().filter(|c| c.is_ascii_digit()).collect();
    if chop {
        digits.truncate(17);
    }
    let tlen = digits.len();
    let needtz = || format!("Not enough information to parse timezone properly for {otext}.");
    let fmt = match tlen {
        4 | 6 | 8 | 10 if parsed_tz => return Err(needtz()),
        4 => "%Y",
        6 => "%Y%m",
        8 => "%Y%m%d",
        10 => "%Y%m%d%H",
        12 => "%Y%m%d%H%M",
        14 => "%Y%m%d%H%M%S",
        15..=20 => "%Y%m%d%H%M%S%f",
        _ => return Err(format!("Unknown time format for {otext}")),
    };
    match strptime(&digits, fmt) {
        Ok(dt) => Ok((dt, base, tlen)),
        Err(e) => Err(format!("Error parsing time \"{otext}\"; {e}")),
    }
}

/// Parse a time string into epoch millis (`s_time.parse`).
pub(crate) fn parse(text: &str, base: Option<i64>, chop: bool) -> TimeResult<i64> {
    let (dt, base, _) = rawparse(text, base, chop)?;
    Ok(dt.epoch_millis(base))
}

/// The `[tick, tock)` interval covered by a wildcard time prefix such as `2021/10*`.
pub(crate) fn wildrange(text: &str) -> TimeResult<(i64, i64)> {
    let (dt, base, tlen) = rawparse(text, None, false)?;
    let tock = match tlen {
        4 => dt.add_months(12),
        6 => dt.add_months(1),
        8 | 10 | 12 | 14 => {
            let add = match tlen {
                8 => ONEDAY,
                10 => ONEHOUR,
                12 => ONEMIN,
                _ => ONESEC,
            };
            let tick = dt.epoch_millis(base);
            return Ok((tick, tick + add));
        }
        _ => return Err(format!("Time wild card position not supported for {text}")),
    };
    Ok((dt.epoch_millis(base), tock.epoch_millis(base)))
}

/// Render epoch millis as `YYYY/MM/DD HH:MM:SS.mmm` (`?` for the future marker).
pub fn repr(tick: i64) -> String {
    if tick == FUTURE {
        return "?".into();
    }
    let dt = DateTime::from_millis(tick);
    format!(
        "{}/{:02}/{:02} {:02}:{:02}:{:02}.{:03}",
        dt.year,
        dt.month,
        dt.day,
        dt.hour,
        dt.minute,
        dt.second,
        dt.micro / 1000
    )
}

fn noms(text: &[char], mut offs: usize, cset: &str) -> usize {
    while offs < text.len() && cset.contains(text[offs]) {
        offs += 1;
    }
    offs
}

/// Parse a relative delta such as `-1 day` or `+ 3hours` into milliseconds (`s_time.delta`).
pub(crate) fn delta(otext: &str) -> TimeResult<i64> {
    let text: Vec<char> = super::value::py_lower(super::value::py_strip(otext))
        .chars()
        .collect();
    let mut offs = noms(&text, 0, " \t\r\n");
    let mut sign = '+';
    if let Some(c) = text.first()
        && (*c == '+' || *c == '-')
    {
        sign = *c;
        offs += 1;
    }
    offs = noms(&text, offs, " \t\r\n");
    let start = offs;
    offs = noms(&text, offs, "0123456789");
    let sizetext: String = text[start..offs].iter().collect();
    offs = noms(&text, offs, " \t\r\n");
    let unittext: String = text[offs..].iter().collect();
    let size = super::value::py_int0(&sizetext)?;
    let size = i64::try_from(size).map_err(|_| format!("delta too large for {otext}"))?;
    let size = if sign == '-' { -size } else { size };
    match TIMEUNITS.iter().find(|(n, _)| *n == unittext) {
        Some((_, base)) => size
            .checked_mul(*base)
            .ok_or_else(|| format!("delta too large for {otext}")),
        None => Err(format!("unknown time delta units: {unittext} for {otext}")),
    }
}

/// Whether any time delta unit name occurs in `text`.
pub(crate) fn has_unit(text: &str) -> bool {
    TIMEUNITS.iter().any(|(n, _)| text.contains(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses() {
        assert_eq!(parse("2020", Some(0), true), Ok(1_577_836_800_000));
        assert_eq!(
            parse("2020-01-02T03:04:05.123", Some(0), true),
            Ok(1_577_934_245_123)
        );
        assert_eq!(repr(1_577_934_245_123), "2020/01/02 03:04:05.123");
        assert_eq!(repr(-1), "1969/12/31 23:59:59.999");
        assert_eq!(delta("-1 day"), Ok(-ONEDAY));
        assert_eq!(
            parsetz("2020-01-02t03:04:05+01:00").map(|x| x.1),
            Ok(-ONEHOUR)
        );
        assert_eq!(
            wildrange("2021"),
            Ok((1_609_459_200_000, 1_640_995_200_000))
        );
        assert_eq!(
            parse("99991231235959999", Some(0), true),
            Ok(253_402_300_799_999)
        );
    }
}
