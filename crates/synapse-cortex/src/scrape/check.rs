//! The validity checks the scrape rules run on a regex match before reporting it: file paths,
//! UNC paths (rewritten as URLs), IPv6 addresses, URL schemes and FQDN labels.

use std::sync::LazyLock;

use regex::Regex;

/// The reference's `str.isspace()`: Unicode White_Space plus the ASCII separators 0x1c-0x1f.
pub(crate) fn py_isspace(c: char) -> bool {
    c.is_whitespace() || matches!(c, '\u{1c}'..='\u{1f}')
}

/// A character class test compiled once (`\w`, `\d`, ...).
fn class_matches(re: &LazyLock<Option<Regex>>, c: char) -> bool {
    let mut buf = [0u8; 4];
    re.as_ref()
        .is_some_and(|re| re.is_match(c.encode_utf8(&mut buf)))
}

/// Unicode `\w`.
pub(crate) fn is_word(c: char) -> bool {
    static RE: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r"^\w$").ok());
    class_matches(&RE, c)
}

/// Unicode `\d` (decimal digits, general category Nd).
pub(crate) fn is_decimal(c: char) -> bool {
    c.is_ascii_digit() || (!c.is_ascii() && class_matches(&DECIMAL, c))
}

static DECIMAL: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r"^\d$").ok());

/// The value of a decimal digit: Unicode lays every Nd digit set out as ten consecutive code
/// points from zero, so the distance from the start of its run of digits, modulo 10.
fn decimal_value(c: char) -> Option<u32> {
    if c.is_ascii_digit() {
        return c.to_digit(10);
    }
    if !is_decimal(c) {
        return None;
    }
    let code = c as u32;
    let mut first = code;
    while first > 0 {
        match char::from_u32(first - 1) {
            Some(p) if is_decimal(p) => first -= 1,
            _ => break,
        }
    }
    Some((code - first) % 10)
}

/// Python's `int(text)` for base 10: surrounding whitespace, a sign, Unicode digits and single
/// underscores between digits.
pub(crate) fn py_int(text: &str) -> Option<i128> {
    let text = text.trim_matches(py_isspace);
    let (neg, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    if body.is_empty() || body.starts_with('_') || body.ends_with('_') || body.contains("__") {
        return None;
    }
    let mut out: i128 = 0;
    for c in body.chars() {
        if c == '_' {
            continue;
        }
        let d = decimal_value(c)?;
        out = out.checked_mul(10)?.checked_add(i128::from(d))?;
    }
    Some(if neg { -out } else { out })
}

// ---- file paths ------------------------------------------------------------------------------

const LINUX_ROOTDIRS: &[&str] = &[
    "bin", "boot", "cdrom", "dev", "etc", "home", "lib", "lib64", "lib32", "libx32", "media",
    "mnt", "opt", "proc", "root", "run", "sbin", "srv", "sys", "tmp", "usr", "var",
];

const PATH_PARTS_LIMIT: usize = 1024;

/// A POSIX path that starts at `/` (not `//`) whose first directory is a Linux root directory,
/// with at most 4096 characters and 1024 parts.
pub(crate) fn linux_path_ok(valu: &str) -> bool {
    if valu.chars().count() > 4096 {
        return false;
    }
    // a POSIX path keeps exactly two leading slashes as its root ("//x"), others collapse
    if valu.starts_with("//") && !valu.starts_with("///") {
        return false;
    }
    let parts: Vec<&str> = valu
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    // the root counts as a part
    if parts.is_empty() || parts.len() + 1 > PATH_PARTS_LIMIT {
        return false;
    }
    LINUX_ROOTDIRS.contains(&parts[0])
}

const WINDOWS_RESERVED: &[&str] = &[
    "CON", "PRN", "AUX", "NUL", "COM0", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7",
    "COM8", "COM9", "LPT0", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
];

/// A Windows path `X:\...` with a one-letter drive, no reserved device name as a part, no part
/// ending with a dot, at most 32767 characters and 1024 parts.
pub(crate) fn windows_path_ok(valu: &str) -> bool {
    if valu.chars().count() > 32_767 {
        return false;
    }
    let mut chars = valu.chars();
    let (Some(drive), Some(':'), Some('\\')) = (chars.next(), chars.next(), chars.next()) else {
        return false;
    };
    let lower: String = drive.to_lowercase().collect();
    if !(lower.len() == 1 && lower.as_bytes()[0].is_ascii_lowercase()) {
        return false;
    }
    let rest = chars.as_str();
    let parts: Vec<&str> = rest
        .split(['\\', '/'])
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    if parts.len() + 1 > PATH_PARTS_LIMIT {
        return false;
    }
    parts
        .iter()
        .all(|p| !WINDOWS_RESERVED.contains(p) && !p.ends_with('.'))
}

// ---- UNC paths -------------------------------------------------------------------------------

/// A UNC path (`\\host[@SSL][@port]\share\path\file`) as the URL the reference makes of it
/// (`smb://host/share/path/file`, `https://` with `@SSL`), or `None` when it is not valid.
pub(crate) fn unc_to_url(valu: &str) -> Option<String> {
    if !valu.starts_with("\\\\") {
        return None;
    }
    let parts: Vec<&str> = valu.split('\\').collect();
    if parts.len() < 4 {
        return None;
    }
    let mut host = parts[2].to_owned();
    let share = parts[3];
    let sharelen = share.chars().count();
    if sharelen == 0 || sharelen > 80 {
        return None;
    }
    let mut paths: &[&str] = &[];
    let mut filename = "";
    if parts.len() > 4 {
        let rest = &parts[4..];
        paths = &rest[..rest.len() - 1];
        if paths.iter().any(|p| p.chars().count() > 255) {
            return None;
        }
        filename = rest[rest.len() - 1];
        if filename.chars().count() > 255 {
            let first = filename.split(':').next().unwrap_or_default();
            if first.chars().count() > 255 {
                return None;
            }
        }
    }
    let mut proto = "smb";
    if host.contains("@SSL") {
        proto = "https";
        host = host.replace("@SSL", "");
    }
    let mut port: i128 = 0;
    if let Some((h, p)) = host.split_once('@') {
        port = py_int(p)?;
        host = h.to_owned();
    }
    if host.to_lowercase().ends_with(".ipv6-literal.net") {
        // the reference strips the *characters* of ".ipv6-literal.net" from both ends
        const STRIP: &str = ".ipv6-literal.net";
        host = host
            .to_lowercase()
            .trim_matches(|c| STRIP.contains(c))
            .replace('-', ":");
        if let Some(i) = host.find('s') {
            host.truncate(i);
        }
    }
    if host.matches(':').count() >= 2 {
        if port != 0 {
            host = format!("[{host}]");
        } else {
            host = host.trim_matches(['[', ']']).to_owned();
        }
    }
    let port = if port != 0 {
        format!(":{port}")
    } else {
        String::new()
    };
    let paths = if paths.is_empty() {
        String::new()
    } else {
        format!("/{}", paths.join("/"))
    };
    let filename = if filename.is_empty() {
        String::new()
    } else {
        format!("/{filename}")
    };
    Some(format!("{proto}://{host}{port}/{share}{paths}{filename}"))
}

// ---- IP addresses ----------------------------------------------------------------------------

/// Python's `ipaddress.IPv4Address(text)` accepts it: four ASCII decimal octets up to 255,
/// without leading zeros.
fn ipv4_ok(text: &str) -> bool {
    let octets: Vec<&str> = text.split('.').collect();
    octets.len() == 4
        && octets.iter().all(|o| {
            !o.is_empty()
                && o.len() <= 3
                && o.bytes().all(|b| b.is_ascii_digit())
                && !(o.len() > 1 && o.starts_with('0'))
                && o.parse::<u16>().is_ok_and(|v| v <= 255)
        })
}

/// Python's `ipaddress.IPv6Address(text)` accepts it (no scope id: the scrape rules never
/// include one).
pub(crate) fn ipv6_ok(text: &str) -> bool {
    let mut parts: Vec<&str> = text.split(':').collect();
    if parts.len() < 3 {
        return false;
    }
    if parts.last().is_some_and(|p| p.contains('.')) {
        let Some(v4) = parts.pop() else { return false };
        if !ipv4_ok(v4) {
            return false;
        }
        // the IPv4 tail stands for two hextets
        parts.push("0");
        parts.push("0");
    }
    if parts.len() > 9 {
        return false;
    }
    let n = parts.len();
    let mut skip = None;
    for (i, p) in parts.iter().enumerate().take(n - 1).skip(1) {
        if p.is_empty() {
            if skip.is_some() {
                return false;
            }
            skip = Some(i);
        }
    }
    let (first_empty, last_empty) = (parts[0].is_empty(), parts[n - 1].is_empty());
    let hextets: Vec<&str> = match skip {
        Some(i) => {
            let mut hi = i;
            let mut lo = n - i - 1;
            if first_empty {
                hi -= 1;
                if hi != 0 {
                    return false;
                }
            }
            if last_empty {
                lo -= 1;
                if lo != 0 {
                    return false;
                }
            }
            if hi + lo >= 8 {
                return false;
            }
            parts[..hi]
                .iter()
                .chain(&parts[n - lo..])
                .copied()
                .collect()
        }
        None => {
            if n != 8 || first_empty || last_empty {
                return false;
            }
            parts.clone()
        }
    };
    hextets
        .iter()
        .all(|h| !h.is_empty() && h.len() <= 4 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

// ---- URLs ------------------------------------------------------------------------------------

/// The URI schemes the reference accepts (IANA's list and a few more).
pub(crate) fn uri_scheme_ok(scheme: &str) -> bool {
    static URIS: LazyLock<std::collections::HashSet<&'static str>> = LazyLock::new(|| {
        let mut set: std::collections::HashSet<&'static str> =
            include_str!("data/iana-uris.txt").lines().collect();
        set.extend([
            "aha",
            "ftps",
            "mysql",
            "postgresql",
            "slack",
            "socks4",
            "socks4a",
            "socks5",
            "socks5h",
            "tcp",
            "unk",
            "webpack",
        ]);
        set
    });
    URIS.contains(scheme)
}

/// The closing bracket of an opening one that may precede a URL.
pub(crate) fn inverse_prefix(c: char) -> Option<char> {
    Some(match c {
        '[' => ']',
        '<' => '>',
        '{' => '}',
        '(' => ')',
        '\u{2018}' => '\u{2019}',
        '\u{201c}' => '\u{201d}',
        _ => return None,
    })
}

// ---- FQDNs -----------------------------------------------------------------------------------

/// The FQDN encodes with IDNA (UTS 46, or the IDNA 2003 codec) after NFKC and dot mapping.
pub(crate) fn fqdn_ok(valu: &str) -> bool {
    crate::model::fqdn_idna_ok(valu)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_like_python() {
        for ok in [
            "::1",
            "1::",
            "::",
            "1:2:3:4:5:6:7:8",
            "::ffff:1.2.3.4",
            "1:2:3:4:5:6:1.2.3.4",
            "1::8",
            "1:2:3:4:5:6:7::",
            "::2:3:4:5:6:7:8",
        ] {
            assert!(ipv6_ok(ok), "{ok}");
        }
        for bad in [
            "1:2:3:4:5:6:7:8:9",
            "1::2::3",
            ":1:2:3:4:5:6:7",
            "1:2:3:4:5:6:7:",
            "12345::",
            "::1.2.3.04",
            "1:2:3:4:5:6:7:1.2.3.4",
            "1:2:3:4:5:6:7:8::",
            "::1:2:3:4:5:6:7:8",
            "g::",
        ] {
            assert!(!ipv6_ok(bad), "{bad}");
        }
    }

    #[test]
    fn unc_paths() {
        assert_eq!(
            unc_to_url("\\\\srv\\share").as_deref(),
            Some("smb://srv/share")
        );
        assert_eq!(
            unc_to_url("\\\\srv@SSL@8443\\share\\a\\b\\f.txt").as_deref(),
            Some("https://srv:8443/share/a/b/f.txt")
        );
        assert_eq!(unc_to_url("\\\\srv"), None);
        assert_eq!(unc_to_url("\\\\srv@x\\share"), None);
    }

    #[test]
    fn python_ints() {
        assert_eq!(py_int(" +1_0 "), Some(10));
        assert_eq!(py_int("\u{0668}\u{0660}"), Some(80));
        assert_eq!(py_int("1__0"), None);
        assert_eq!(py_int(""), None);
    }

    #[test]
    fn paths() {
        assert!(linux_path_ok("/etc/passwd is here"));
        assert!(!linux_path_ok("//etc/x"));
        assert!(linux_path_ok("///etc/x"));
        assert!(!linux_path_ok("/nope/x"));
        assert!(windows_path_ok("c:\\windows\\x.exe and more"));
        assert!(!windows_path_ok("c:\\windows\\CON"));
        assert!(!windows_path_ok("c:\\windows.\\x"));
        assert!(!windows_path_ok("ab:\\windows"));
    }
}
