//! Re-fanging: undo the defanging of indicators (`hxxp`, `[.]`, `(.)`, `[at]`, ...) before
//! scraping, and map a match in the re-fanged text back to the original text.
//!
//! Every replacement is at most as long as what it replaces, so the re-fanged text is never
//! longer than the original, and one record per replacement (its position in the new text and
//! how many original characters it stands for) is enough to map offsets back.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;

/// The reference's defanging table (source, replacement), in its order: the first entry that
/// matches at a position wins.
pub(crate) fn fangs() -> &'static [(String, String)] {
    static FANGS: LazyLock<Vec<(String, String)>> = LazyLock::new(build_fangs);
    &FANGS
}

fn build_fangs() -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = [
        ("fxp:", "ftp:"),
        ("fxps:", "ftps:"),
        ("hxxp:", "http:"),
        ("hxxps:", "https:"),
        ("fxp[s]:", "ftps:"),
        ("hxxp[s]:", "https:"),
    ]
    .iter()
    .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
    .collect();
    for fang in ["[:]", "[://]", "[:", "(:)"] {
        for scheme in [
            "ftp", "fxp", "ftps", "fxps", "http", "hxxp", "https", "hxxps",
        ] {
            let src = format!("{scheme}{fang}");
            let dst: String = src
                .replace('x', "t")
                .chars()
                .filter(|c| !matches!(c, '[' | ']' | '(' | ')'))
                .collect();
            if !out.iter().any(|(s, _)| *s == src) {
                out.push((src, dst));
            }
        }
    }
    for (src, dst) in [
        ("[.]", "."),
        (".]", "."),
        ("[.", "."),
        ("[．]", "．"),
        ("[。]", "。"),
        ("[｡]", "｡"),
        ("(.)", "."),
        ("(．)", "．"),
        ("(。)", "。"),
        ("(｡)", "｡"),
        ("[dot]", "."),
        ("[:]", ":"),
        ("[at]", "@"),
        ("[@]", "@"),
        ("\\.", "."),
    ] {
        out.push((src.to_owned(), dst.to_owned()));
    }
    out
}

/// A regex matching any of the fangs' sources, ASCII letters case-insensitively.
///
/// The reference matches them with full Unicode case folding and then looks the lowercased
/// match up in its table, which fails (an uncaught `KeyError`) when a non-ASCII letter folds to
/// an ASCII one (`hxxpſ:`); only ASCII case variants are fangs here.
pub(crate) fn fang_regex(fangs: &[(String, String)]) -> Option<Regex> {
    let mut pat = String::new();
    for (i, (src, _)) in fangs.iter().enumerate() {
        if i > 0 {
            pat.push('|');
        }
        for c in src.chars() {
            if c.is_ascii_alphabetic() {
                pat.push('[');
                pat.push(c.to_ascii_lowercase());
                pat.push(c.to_ascii_uppercase());
                pat.push(']');
            } else {
                pat.push_str(&regex::escape(c.encode_utf8(&mut [0; 4])));
            }
        }
    }
    Regex::new(&pat).ok()
}

/// The re-fanged text and where it changed: for each replacement, its position in the new
/// text (in characters) and how many original characters that position stands for.
#[derive(Debug, Clone, Default)]
pub(crate) struct Refanged {
    /// The re-fanged text.
    pub(crate) text: String,
    /// New-text character position -> number of original characters it replaces there.
    pub(crate) offsets: BTreeMap<usize, usize>,
    /// For each replacement in order: its new-text position and the total shrinkage of the
    /// text up to and including it.
    pub(crate) shifts: Vec<(usize, usize)>,
}

/// Re-fang `text` with the default fangs.
pub(crate) fn refang(text: &str) -> Refanged {
    static RE: LazyLock<Option<Regex>> = LazyLock::new(|| fang_regex(fangs()));
    match RE.as_ref() {
        Some(re) => refang_with(text, re, fangs()),
        None => Refanged {
            text: text.to_owned(),
            offsets: BTreeMap::new(),
            shifts: Vec::new(),
        },
    }
}

/// Re-fang `text` with a fang table and its regex: each match is replaced by the destination of
/// its lowercased source (a match whose lowercase form is not in the table is left alone).
pub(crate) fn refang_with(text: &str, re: &Regex, fangs: &[(String, String)]) -> Refanged {
    let mut out = String::with_capacity(text.len());
    let mut offsets = BTreeMap::new();
    let mut shifts = Vec::new();
    let mut last = 0;
    // characters of the original text before `last`, and characters removed so far
    let mut chars_before = 0usize;
    let mut consumed = 0usize;
    for m in re.find_iter(text) {
        let lower = m.as_str().to_lowercase();
        let Some((_, dst)) = fangs.iter().find(|(src, _)| src.to_lowercase() == lower) else {
            continue;
        };
        let between = &text[last..m.start()];
        out.push_str(between);
        chars_before += between.chars().count();
        let mlen = m.as_str().chars().count();
        let rlen = dst.chars().count();
        let shrink = mlen.saturating_sub(rlen);
        let key = chars_before - consumed;
        offsets.insert(key, shrink + 1);
        consumed += shrink;
        shifts.push((key, consumed));
        chars_before += mlen;
        out.push_str(dst);
        last = m.end();
    }
    out.push_str(&text[last..]);
    Refanged {
        text: out,
        offsets,
        shifts,
    }
}

/// Map a match at `offset` (characters, in the re-fanged text) whose value is `valu` back to
/// the original text: the original match text and its offset there.
///
/// This is the reference's arithmetic, quirks included: the length of the *value* (which a
/// rule may have rewritten, e.g. a UNC path into a URL) decides how much original text is
/// taken.
pub(crate) fn rewrite(
    orig: &CharText<'_>,
    refanged: &Refanged,
    offset: usize,
    valu_chars: usize,
) -> (String, usize) {
    let offsets = &refanged.offsets;
    let idx = refanged.shifts.partition_point(|(k, _)| *k < offset);
    let baseoff = if idx == 0 {
        0
    } else {
        refanged.shifts[idx - 1].1
    };
    let mut end = offset;
    for i in offset..offset + valu_chars {
        end += offsets.get(&i).copied().unwrap_or(1);
    }
    let start = baseoff + offset;
    (orig.slice(start, baseoff + end).to_owned(), start)
}

/// A text with character-to-byte offsets, for slicing by character positions.
#[derive(Debug)]
pub(crate) struct CharText<'t> {
    text: &'t str,
    bytes: Vec<usize>,
}

impl<'t> CharText<'t> {
    pub(crate) fn new(text: &'t str) -> CharText<'t> {
        let mut bytes: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
        bytes.push(text.len());
        CharText { text, bytes }
    }

    /// `text[start:end]` in characters, clamped as Python slices are.
    pub(crate) fn slice(&self, start: usize, end: usize) -> &'t str {
        let n = self.bytes.len() - 1;
        let (start, end) = (start.min(n), end.min(n));
        if start >= end {
            return "";
        }
        &self.text[self.bytes[start]..self.bytes[end]]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refang_records_offsets() {
        let r = refang("a[.]b hxxp[:]//x[dot]com");
        assert_eq!(r.text, "a.b http://x.com");
        let offs: Vec<(usize, usize)> = r.offsets.into_iter().collect();
        assert_eq!(offs, vec![(1, 3), (4, 3), (12, 5)]);
    }

    #[test]
    fn refang_is_ascii_case_insensitive() {
        assert_eq!(refang("HXXPS://A[DOT]B").text, "https://A.B");
        assert_eq!(refang("hxxpſ://x").text, "hxxpſ://x");
    }

    #[test]
    fn rewrite_maps_back() {
        let orig = "see foo[.]com now";
        let r = refang(orig);
        let ct = CharText::new(orig);
        let (m, off) = rewrite(&ct, &r, 4, "foo.com".len());
        assert_eq!((m.as_str(), off), ("foo[.]com", 4));
    }

    #[test]
    fn python_slice_clamps() {
        let ct = CharText::new("héllo");
        assert_eq!(ct.slice(1, 3), "él");
        assert_eq!(ct.slice(3, 99), "lo");
        assert_eq!(ct.slice(9, 99), "");
        assert_eq!(ct.slice(3, 1), "");
    }
}
