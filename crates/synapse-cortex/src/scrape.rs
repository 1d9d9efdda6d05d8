//! Scraping: finding indicators (file paths, URLs, e-mail addresses, servers, IP addresses,
//! FQDNs, hashes, CVE/CWE/CPE identifiers, cryptocurrency addresses) in free text.
//!
//! The rules, their order and their validity checks are the reference's (Synapse 2.x
//! `synapse.lib.scrape`): the text is first re-fanged (`hxxp[:]//`, `example[.]com`, ...), each
//! rule's matches are reported in text order, the rules in their fixed order. A match carries
//! its offset and the matched text in the original (not re-fanged) text, counted in characters.
//!
//! Values are raw scrape values; callers that make nodes normalize them with the data model and
//! drop what does not normalize, as the reference does.
//!
//! ```
//! use synapse_cortex::scrape;
//!
//! let found = scrape::scrape("ping 1.2.3.4 at hxxp://evil[.]com/x", None, true);
//! let forms: Vec<&str> = found.iter().map(|(form, _)| *form).collect();
//! assert_eq!(forms, ["inet:url", "inet:ipv4", "inet:fqdn"]);
//! ```

mod check;
mod coin;
mod fang;
pub mod fuzzing;

use std::collections::HashSet;
use std::ops::ControlFlow;
use std::sync::LazyLock;

use regex::{Captures, Regex, RegexBuilder};
use rmpv::Value;

/// A scraped value: text, or a cryptocurrency address as `(coin, address)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scraped {
    /// A text value.
    Str(String),
    /// A cryptocurrency address: the coin (`btc`, `eth`, ...) and the address.
    Coin(&'static str, String),
}

impl Scraped {
    /// The value as the data model takes it (a string, or a `(coin, address)` list).
    pub fn to_value(&self) -> Value {
        match self {
            Scraped::Str(s) => Value::from(s.as_str()),
            Scraped::Coin(c, a) => Value::Array(vec![Value::from(*c), Value::from(a.as_str())]),
        }
    }
}

/// One scrape result with its context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScrapeMatch {
    /// The form the value is for.
    pub form: &'static str,
    /// The scraped value.
    pub valu: Scraped,
    /// The text that matched, in the original text.
    pub text: String,
    /// The offset of the match in the original text, in characters.
    pub offset: usize,
}

/// The forms the scrape rules produce, sorted.
pub fn forms() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = RULES.iter().map(|r| r.form).collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// Scrape `text` for indicators, with their context (the reference's `contextScrape`).
///
/// `form` limits the rules to one form; `refang` re-fangs the text first; `first` stops after
/// the first result.
pub fn context_scrape(
    text: &str,
    form: Option<&str>,
    refang: bool,
    first: bool,
) -> Vec<ScrapeMatch> {
    let refanged = if refang {
        fang::refang(text)
    } else {
        fang::Refanged {
            text: text.to_owned(),
            offsets: Default::default(),
            shifts: Vec::new(),
        }
    };
    let orig = (!refanged.offsets.is_empty()).then(|| fang::CharText::new(text));
    let mut out = Vec::new();
    for rule in RULES.iter() {
        if form.is_some_and(|f| f != rule.form) {
            continue;
        }
        let mut chars = CharCounter::new(&refanged.text);
        let flow = rule.run(&refanged.text, &mut |hit: Hit<'_>| {
            let offset = chars.at(hit.start);
            let matched = hit.matched.unwrap_or_else(|| hit.raw.to_owned());
            let (text, offset) = match &orig {
                Some(orig) => {
                    let nchars = match &hit.valu {
                        Scraped::Str(s) => s.chars().count(),
                        Scraped::Coin(..) => matched.chars().count(),
                    };
                    fang::rewrite(orig, &refanged, offset, nchars)
                }
                None => (matched, offset),
            };
            out.push(ScrapeMatch {
                form: rule.form,
                valu: hit.valu,
                text,
                offset,
            });
            if first {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        });
        if flow.is_break() {
            break;
        }
    }
    out
}

/// Scrape `text` for unique `(form, value)` pairs, in the order they are found.
pub fn scrape(text: &str, form: Option<&str>, refang: bool) -> Vec<(&'static str, Scraped)> {
    let mut seen = HashSet::new();
    context_scrape(text, form, refang, false)
        .into_iter()
        .filter_map(|m| {
            seen.insert((m.form, m.valu.clone()))
                .then_some((m.form, m.valu))
        })
        .collect()
}

/// A match of a caller's pattern (`$lib.scrape.genMatches`): the value of its `valu` group,
/// the matched text and its offset in the original text (characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenMatch {
    /// The text of the `valu` group (in the re-fanged text).
    pub valu: String,
    /// The matched text in the original text.
    pub text: String,
    /// The offset of the match in the original text, in characters.
    pub offset: usize,
}

/// Why a caller's pattern or fangs cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GenMatchError {
    /// A fang's replacement is longer than its source.
    #[error("fang dst[{dst}] must be <= in length to src[{src}]")]
    LongFang {
        /// The source text.
        src: String,
        /// The replacement.
        dst: String,
    },
    /// The pattern has no group named `valu`.
    #[error("The pattern must have a named group valu.")]
    NoValuGroup,
}

/// The matches of `regex` (which must have a group named `valu`) in `text`, after replacing
/// the `fangs` (source, replacement) pairs; offsets map back to the original text.
pub fn gen_matches(
    text: &str,
    regex: &Regex,
    fangs: Option<&[(String, String)]>,
) -> Result<Vec<GenMatch>, GenMatchError> {
    if !regex.capture_names().any(|n| n == Some("valu")) {
        return Err(GenMatchError::NoValuGroup);
    }
    let refanged = match fangs {
        Some(fangs) if !fangs.is_empty() => {
            for (src, dst) in fangs {
                if dst.chars().count() > src.chars().count() {
                    return Err(GenMatchError::LongFang {
                        src: src.clone(),
                        dst: dst.clone(),
                    });
                }
            }
            // the reference matches fangs case-insensitively
            let pat = fangs
                .iter()
                .map(|(src, _)| regex::escape(src))
                .collect::<Vec<_>>()
                .join("|");
            match RegexBuilder::new(&pat).case_insensitive(true).build() {
                Ok(re) => fang::refang_with(text, &re, fangs),
                Err(_) => fang::Refanged {
                    text: text.to_owned(),
                    offsets: Default::default(),
                    shifts: Vec::new(),
                },
            }
        }
        _ => fang::Refanged {
            text: text.to_owned(),
            offsets: Default::default(),
            shifts: Vec::new(),
        },
    };
    let orig = (!refanged.offsets.is_empty()).then(|| fang::CharText::new(text));
    let mut chars = CharCounter::new(&refanged.text);
    let mut out = Vec::new();
    for caps in regex.captures_iter(&refanged.text) {
        let Some(valu) = caps.name("valu") else {
            continue;
        };
        let offset = chars.at(valu.start());
        let (mtext, offset) = match &orig {
            Some(orig) => fang::rewrite(orig, &refanged, offset, valu.as_str().chars().count()),
            None => (valu.as_str().to_owned(), offset),
        };
        out.push(GenMatch {
            valu: valu.as_str().to_owned(),
            text: mtext,
            offset,
        });
    }
    Ok(out)
}

/// Byte offset to character offset, for increasing byte offsets.
struct CharCounter<'t> {
    text: &'t str,
    byte: usize,
    chars: usize,
}

impl<'t> CharCounter<'t> {
    fn new(text: &'t str) -> CharCounter<'t> {
        CharCounter {
            text,
            byte: 0,
            chars: 0,
        }
    }

    fn at(&mut self, byte: usize) -> usize {
        if byte < self.byte {
            self.byte = 0;
            self.chars = 0;
        }
        self.chars += self
            .text
            .get(self.byte..byte)
            .map_or(0, |s| s.chars().count());
        self.byte = byte;
        self.chars
    }
}

// ---- rules -----------------------------------------------------------------------------------

/// One candidate of a rule: where its value starts in the scraped text (bytes), the raw value
/// text, the checked value and the match text when the check changed it.
struct Hit<'t> {
    start: usize,
    raw: &'t str,
    valu: Scraped,
    matched: Option<String>,
}

/// How a rule walks the text.
#[derive(Clone, Copy)]
enum Walk {
    /// A zero-width match at every position (the reference's `(?=...)` rules): the pattern's
    /// leading and trailing context is consumed here, and the search resumes one character
    /// after the start of each match.
    Overlapping,
    /// Ordinary non-overlapping matches.
    Plain,
    /// Non-overlapping matches of the value with a negative look-behind checked by hand at the
    /// value's start (a failed check retries one character further).
    Behind(fn(&str, usize) -> bool),
    /// URLs: the scheme is matched by the pattern, the rest by hand.
    Url,
}

/// What is checked (and possibly rewritten) on a candidate.
#[derive(Clone, Copy)]
enum Check {
    None,
    LinuxPath,
    WindowsPath,
    Unc,
    Server,
    Ipv6,
    Fqdn,
    Cve,
    Coin(fn(&str) -> Option<(&'static str, String)>),
}

struct Rule {
    form: &'static str,
    re: Option<Regex>,
    walk: Walk,
    check: Check,
}

const DASHES: &str = r"\-\x{2011}\x{2012}\x{2013}\x{2014}";
const IPV4: &str = r"(?:(?:25[0-5]|2[0-4]\d|[01]?\d\d?)\.){3}(?:25[0-5]|2[0-4]\d|[01]?\d\d?)";
/// Characters that end an FQDN candidate (IDNA-disallowed symbols).
const IDNA_DISALLOWED: &str = r"\$+<->\^`|~\x{00A8}\x{00AF}\x{00B4}\x{00B8}\x{02D8}-\x{02DD}\x{037A}\x{0384}\x{0385}\x{1FBD}\x{1FBF}-\x{1FC1}\x{1FCD}-\x{1FCF}\x{1FDD}-\x{1FDF}\x{1FED}-\x{1FEF}\x{1FFD}\x{1FFE}\x{207A}\x{207C}\x{208A}\x{208C}\x{2100}\x{2101}\x{2105}\x{2106}\x{2474}-\x{24B5}\x{2A74}-\x{2A76}\x{2FF0}-\x{2FFB}\x{309B}\x{309C}\x{3200}-\x{321E}\x{3220}-\x{3243}\x{33C2}\x{33C7}\x{33D8}\x{FB29}\x{FC5E}-\x{FC63}\x{FDFA}\x{FDFB}\x{FE62}\x{FE64}-\x{FE66}\x{FE69}\x{FE70}\x{FE72}\x{FE74}\x{FE76}\x{FE78}\x{FE7A}\x{FE7C}\x{FE7E}\x{FF04}\x{FF0B}\x{FF1C}-\x{FF1E}\x{FF3E}\x{FF40}\x{FF5C}\x{FF5E}\x{FFE3}\x{FFFC}\x{FFFD}\x{1F100}-\x{1F10A}\x{1F110}-\x{1F129}\x{E0100}-\x{E01EF}";
/// A CPE 2.3 component value.
const CPE_PART: &str = r##"(?::(?:(?:[?]+|\*)?(?:[a-z0-9\-._]|\\[\\?*!"#$%&'()+,/:;<=>@\[\]^`{|}~])+(?:[?]+|\*)?|[*\-]))"##;

/// The top-level domains, longest first (the reference's alternation order).
fn tld_alternation() -> String {
    let mut tlds: Vec<&str> = include_str!("scrape/data/iana-tlds.txt")
        .lines()
        .filter(|l| !l.is_empty())
        .chain(["bit", "bazar", "onion"])
        .collect();
    tlds.sort_by_key(|t| std::cmp::Reverse(t.len()));
    tlds.iter()
        .map(|t| regex::escape(t))
        .collect::<Vec<_>>()
        .join("|")
}

fn ipv6_pattern() -> String {
    let h16 = "[0-9a-f]{1,4}";
    format!(
        "(?:(?:{h16}:){{1,7}}(?:(?::?(?:{h16}:){{0,5}}(?:{IPV4}|{h16}))|:))|(?:::(?:{h16}:){{0,6}}(?:{IPV4}|{h16}))"
    )
}

fn compile(pat: &str) -> Option<Regex> {
    RegexBuilder::new(pat)
        .case_insensitive(true)
        .size_limit(64 << 20)
        .dfa_size_limit(32 << 20)
        .build()
        .ok()
}

/// The `(?=PRE(?P<valu>...)POST)` rules with alphanumeric boundaries.
fn bounded(valu: &str) -> String {
    format!("(?:[^A-Za-z0-9]|^)(?P<valu>{valu})(?:[^A-Za-z0-9]|$)")
}

static RULES: LazyLock<Vec<Rule>> = LazyLock::new(build_rules);

fn build_rules() -> Vec<Rule> {
    let tlds = tld_alternation();
    let ipv6 = ipv6_pattern();
    let label = format!(r"[[\p{{L}}\p{{M}}\p{{N}}\p{{S}}_\-]--[{IDNA_DISALLOWED}]]");
    let outside = r"[^\p{L}\p{M}\p{N}\p{S}\x{3002}\x{FF0E}\x{FF61}_.\-]";
    let dot = r"[\x{3002}\x{FF0E}\x{FF61}.]";
    let b58 = "[a-zA-HJ-NP-Z0-9]";
    let bech = "[qpzry9x8gf2tvdw0s3jn54khce6mua7l]";
    let rule = |form: &'static str, pat: &str, walk: Walk, check: Check| Rule {
        form,
        re: compile(pat),
        walk,
        check,
    };
    vec![
        rule(
            "file:path",
            r"(?P<valu>/[^\x00\n]+)",
            Walk::Behind(not_after_word),
            Check::LinuxPath,
        ),
        rule(
            "file:path",
            r#"(?P<valu>[a-z]+:\\[^<>:"/|?*\n\x00]+)"#,
            Walk::Plain,
            Check::WindowsPath,
        ),
        rule(
            "inet:url",
            r"(?P<prefix>[\x{2018}\x{201C}\\{<(\[]?)(?P<valu>[a-z][a-z0-9]*://)",
            Walk::Url,
            Check::None,
        ),
        rule(
            "inet:url",
            r#""(?P<valu>\\[^\n]+?)"|'(?P<valu2>\\[^\n]+?)'|(?P<valu3>\\[^\n]+?)\s"#,
            Walk::Plain,
            Check::Unc,
        ),
        rule(
            "inet:email",
            &format!(
                r"(?:[^a-z0-9_.+\-]|^)(?P<valu>[a-z0-9_.\-+]{{1,256}}@(?:[a-z0-9_\-]{{1,63}}\.){{1,10}}(?:{tlds}))(?:[^a-z0-9_.\-]|[.\s]|$)"
            ),
            Walk::Overlapping,
            Check::None,
        ),
        rule(
            "inet:server",
            &format!(
                r"(?P<valu>(?:(?P<addr>{IPV4})|\[(?P<v6addr>{ipv6})\]):(?P<port>\d{{1,5}}))(?:$|[^\d.]|\.$|\.\D)"
            ),
            Walk::Behind(not_after_ipv4),
            Check::Server,
        ),
        rule(
            "inet:ipv4",
            &format!(r"(?P<valu>{IPV4})(?:$|[^\d.]|\.$|\.\D)"),
            Walk::Behind(not_after_ipv4),
            Check::None,
        ),
        rule(
            "inet:ipv6",
            &format!(r"(?P<valu>{ipv6})(?:$|[^0-9a-f:.]|\.$|\.\D)"),
            Walk::Behind(not_after_ipv6),
            Check::Ipv6,
        ),
        rule(
            "inet:fqdn",
            &format!(
                r"(?:{outside}|^|[{IDNA_DISALLOWED}])(?P<valu>(?:{label}+{dot})+(?:{tlds}))(?:{outside}|{dot}(?:[\p{{Z}}\p{{Cc}}]|$)|$|[{IDNA_DISALLOWED}])"
            ),
            Walk::Overlapping,
            Check::Fqdn,
        ),
        rule(
            "hash:md5",
            &bounded("[A-Fa-f0-9]{32}"),
            Walk::Overlapping,
            Check::None,
        ),
        rule(
            "hash:sha1",
            &bounded("[A-Fa-f0-9]{40}"),
            Walk::Overlapping,
            Check::None,
        ),
        rule(
            "hash:sha256",
            &bounded("[A-Fa-f0-9]{64}"),
            Walk::Overlapping,
            Check::None,
        ),
        rule(
            "it:sec:cve",
            &format!(
                r"(?:[^a-z0-9]|^)(?P<valu>CVE[{DASHES}][0-9]{{4}}[{DASHES}][0-9]{{4,}})(?:[^a-z0-9]|$)"
            ),
            Walk::Overlapping,
            Check::Cve,
        ),
        rule(
            "it:sec:cwe",
            &bounded("CWE-[0-9]{1,8}"),
            Walk::Overlapping,
            Check::None,
        ),
        rule(
            "it:sec:cpe",
            &format!(
                r"(?P<valu>cpe:2\.3:[aho*\-]{CPE_PART}{{5}}:(?:[*\-]|(?:(?:[a-z]{{2,3}}){{1}}(?:-(?:[0-9]{{3}}|[a-z]{{2}}))?)){CPE_PART}{{4}})"
            ),
            Walk::Plain,
            Check::None,
        ),
        rule(
            "crypto:currency:address",
            &bounded(&format!("[1]{b58}{{25,39}}")),
            Walk::Overlapping,
            Check::Coin(coin::btc_base58),
        ),
        rule(
            "crypto:currency:address",
            &bounded(&format!("3{b58}{{33}}")),
            Walk::Overlapping,
            Check::Coin(coin::btc_base58),
        ),
        rule(
            "crypto:currency:address",
            &bounded(&format!("(?:bc|bcrt|tb)1{bech}{{3,71}}")),
            Walk::Overlapping,
            Check::Coin(coin::btc_bech32),
        ),
        rule(
            "crypto:currency:address",
            &bounded("0x[A-Fa-f0-9]{40}"),
            Walk::Overlapping,
            Check::Coin(coin::eth),
        ),
        rule(
            "crypto:currency:address",
            &bounded(&format!("(?:bitcoincash|bchtest):{bech}{{42}}")),
            Walk::Overlapping,
            Check::Coin(coin::bch),
        ),
        rule(
            "crypto:currency:address",
            &bounded(&format!("[xr]{b58}{{25,46}}")),
            Walk::Overlapping,
            Check::Coin(coin::xrp),
        ),
        rule(
            "crypto:currency:address",
            &bounded(&format!("[1a-z]{b58}{{46,47}}")),
            Walk::Overlapping,
            Check::Coin(coin::substrate),
        ),
        rule(
            "crypto:currency:address",
            &bounded(&format!("(?:DdzFF|Ae2td){b58}{{54,99}}")),
            Walk::Overlapping,
            Check::Coin(coin::cardano_byron),
        ),
        rule(
            "crypto:currency:address",
            &bounded(&format!("addr1{bech}{{53,}}")),
            Walk::Overlapping,
            Check::Coin(coin::cardano_shelley),
        ),
    ]
}

fn prev_chars(text: &str, pos: usize) -> std::iter::Rev<std::str::Chars<'_>> {
    text.get(..pos).unwrap_or_default().chars().rev()
}

/// `(?<![\w\d]+)`: not right after a word character.
fn not_after_word(text: &str, pos: usize) -> bool {
    !prev_chars(text, pos).next().is_some_and(check::is_word)
}

fn is_hex(c: char) -> bool {
    c.is_ascii_hexdigit()
}

/// `(?<!\d|\d\.|:[0-9a-f]{0,4}:)`: not inside a longer number, dotted quad or IPv6 address.
fn not_after_ipv4(text: &str, pos: usize) -> bool {
    let mut prev = prev_chars(text, pos);
    match prev.next() {
        None => true,
        Some(c) if check::is_decimal(c) => false,
        Some('.') => !prev.next().is_some_and(check::is_decimal),
        Some(':') => {
            for _ in 0..=4 {
                match prev.next() {
                    Some(':') => return false,
                    Some(c) if is_hex(c) => {}
                    _ => return true,
                }
            }
            true
        }
        Some(_) => true,
    }
}

/// `(?<![0-9a-f]:|:[0-9a-f]|::|\d\.)`: not inside a longer IPv6 address or dotted quad.
fn not_after_ipv6(text: &str, pos: usize) -> bool {
    let mut prev = prev_chars(text, pos);
    let (Some(c2), Some(c1)) = (prev.next(), prev.next()) else {
        return true;
    };
    !((c2 == ':' && (is_hex(c1) || c1 == ':'))
        || (c1 == ':' && is_hex(c2))
        || (c2 == '.' && check::is_decimal(c1)))
}

fn next_char_at(text: &str, pos: usize) -> usize {
    pos + text
        .get(pos..)
        .and_then(|s| s.chars().next())
        .map_or(1, char::len_utf8)
}

/// URL body characters: anything but ASCII whitespace and quotes.
fn url_stop(c: char) -> bool {
    matches!(c, ' ' | '\'' | '"' | '\t' | '\n' | '\r' | '\x0c' | '\x0b')
}

/// Where a URL body starting at `pos` ends: characters up to whitespace or a quote, or up to a
/// run of `,`/`.` followed by one; `None` when it would be empty and not at such a run.
fn url_body_end(text: &str, pos: usize) -> Option<usize> {
    let mut q = pos;
    let bytes = text.as_bytes();
    loop {
        let run = bytes[q..]
            .iter()
            .take_while(|b| matches!(b, b',' | b'.'))
            .count();
        if run > 0 {
            match text[q + run..].chars().next() {
                Some(c) if url_stop(c) => return Some(q),
                Some(_) => {
                    q += run;
                    continue;
                }
                // a run at the end is part of the body
                None => return Some(q + run),
            }
        }
        match text[q..].chars().next() {
            Some(c) if !url_stop(c) => q += c.len_utf8(),
            _ => return (q > pos).then_some(q),
        }
    }
}

impl Rule {
    /// Report each candidate that passes the rule's check, in text order.
    fn run<'t>(
        &self,
        text: &'t str,
        sink: &mut dyn FnMut(Hit<'t>) -> ControlFlow<()>,
    ) -> ControlFlow<()> {
        let Some(re) = &self.re else {
            return ControlFlow::Continue(());
        };
        let mut pos = 0;
        while pos <= text.len() {
            let Some(caps) = re.captures_at(text, pos) else {
                break;
            };
            let Some(whole) = caps.get(0) else { break };
            let Some(valu) = caps
                .name("valu")
                .or_else(|| caps.name("valu2"))
                .or_else(|| caps.name("valu3"))
            else {
                break;
            };
            match self.walk {
                Walk::Overlapping => {
                    pos = next_char_at(text, whole.start());
                    self.report(text, &caps, valu.start(), valu.as_str(), sink)?;
                }
                Walk::Plain => {
                    pos = if whole.end() > whole.start() {
                        whole.end()
                    } else {
                        next_char_at(text, whole.end())
                    };
                    self.report(text, &caps, valu.start(), valu.as_str(), sink)?;
                }
                Walk::Behind(ok) => {
                    if ok(text, valu.start()) {
                        pos = valu.end();
                        self.report(text, &caps, valu.start(), valu.as_str(), sink)?;
                    } else {
                        pos = next_char_at(text, valu.start());
                    }
                }
                Walk::Url => match url_body_end(text, valu.end()) {
                    Some(end) => {
                        pos = end;
                        let raw = &text[valu.start()..end];
                        let prefix = caps.name("prefix").map_or("", |p| p.as_str());
                        if let Some((valu_text, matched)) = url_check(raw, prefix) {
                            sink(Hit {
                                start: valu.start(),
                                raw,
                                valu: Scraped::Str(valu_text),
                                matched,
                            })?;
                        }
                    }
                    None => pos = next_char_at(text, whole.start()),
                },
            }
        }
        ControlFlow::Continue(())
    }

    fn report<'t>(
        &self,
        text: &'t str,
        caps: &Captures<'t>,
        start: usize,
        raw: &'t str,
        sink: &mut dyn FnMut(Hit<'t>) -> ControlFlow<()>,
    ) -> ControlFlow<()> {
        let _ = text;
        let valu = match self.check {
            Check::None => Some(Scraped::Str(raw.to_owned())),
            Check::LinuxPath => check::linux_path_ok(raw).then(|| Scraped::Str(raw.to_owned())),
            Check::WindowsPath => check::windows_path_ok(raw).then(|| Scraped::Str(raw.to_owned())),
            Check::Unc => check::unc_to_url(raw).map(Scraped::Str),
            Check::Server => server_ok(caps).then(|| Scraped::Str(raw.to_owned())),
            Check::Ipv6 => check::ipv6_ok(raw).then(|| Scraped::Str(raw.to_owned())),
            Check::Fqdn => fqdn_ok(raw).then(|| Scraped::Str(raw.to_owned())),
            Check::Cve => Some(Scraped::Str(
                raw.replace(['\u{2011}', '\u{2012}', '\u{2013}', '\u{2014}'], "-"),
            )),
            Check::Coin(f) => f(raw).map(|(c, a)| Scraped::Coin(c, a)),
        };
        match valu {
            Some(valu) => sink(Hit {
                start,
                raw,
                valu,
                matched: None,
            }),
            None => ControlFlow::Continue(()),
        }
    }
}

/// The port is 1-65535 and a bracketed IPv6 address is valid.
fn server_ok(caps: &Captures<'_>) -> bool {
    let port = caps.name("port").and_then(|p| check::py_int(p.as_str()));
    if !port.is_some_and(|p| (1..=65535).contains(&p)) {
        return false;
    }
    caps.name("v6addr")
        .is_none_or(|a| check::ipv6_ok(a.as_str()))
}

/// An FQDN candidate: labels of at most 63 characters, at most 10 before the TLD, and
/// IDNA-encodable.
fn fqdn_ok(valu: &str) -> bool {
    let labels: Vec<&str> = valu
        .split(['.', '\u{3002}', '\u{ff0e}', '\u{ff61}'])
        .collect();
    let nlabels = labels.len().saturating_sub(1);
    if nlabels == 0 || nlabels > 10 {
        return false;
    }
    if labels[..nlabels].iter().any(|l| l.chars().count() > 63) {
        return false;
    }
    check::fqdn_ok(valu)
}

/// A URL candidate: trailing closing brackets (or whitespace) trimmed after an opening
/// bracket, then the scheme must be known. Returns the value and the changed match text.
fn url_check(raw: &str, prefix: &str) -> Option<(String, Option<String>)> {
    let mut valu = raw.to_owned();
    let mut matched = None;
    if let Some(p) = prefix.chars().next() {
        let trimmed = match check::inverse_prefix(p) {
            Some(close) => raw.trim_end_matches(close),
            None => raw.trim_end_matches(check::py_isspace),
        };
        if trimmed != raw {
            valu = trimmed.to_owned();
            matched = Some(valu.clone());
        }
    } else {
        let trimmed = raw.trim_end_matches(check::py_isspace);
        if trimmed != raw {
            valu = trimmed.to_owned();
            matched = Some(valu.clone());
        }
    }
    let scheme = valu.split("://").next().unwrap_or_default().to_lowercase();
    check::uri_scheme_ok(&scheme).then_some((valu, matched))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_compile() {
        for (i, rule) in RULES.iter().enumerate() {
            assert!(
                rule.re.is_some(),
                "rule {i} ({}) does not compile",
                rule.form
            );
        }
    }

    #[test]
    fn forms_sorted() {
        assert_eq!(
            forms(),
            [
                "crypto:currency:address",
                "file:path",
                "hash:md5",
                "hash:sha1",
                "hash:sha256",
                "inet:email",
                "inet:fqdn",
                "inet:ipv4",
                "inet:ipv6",
                "inet:server",
                "inet:url",
                "it:sec:cpe",
                "it:sec:cve",
                "it:sec:cwe",
            ]
        );
    }

    #[test]
    fn url_bodies() {
        let m = context_scrape("see http://a.com. ok", Some("inet:url"), true, false);
        assert_eq!(m[0].valu, Scraped::Str("http://a.com".into()));
        assert!(context_scrape("http:// x", Some("inet:url"), true, false).is_empty());
        let m = context_scrape("http://, x", Some("inet:url"), true, false);
        assert_eq!(m[0].valu, Scraped::Str("http://".into()));
        let m = context_scrape("[http://a.com]]]", Some("inet:url"), true, false);
        assert_eq!((m[0].text.as_str(), m[0].offset), ("http://a.com", 1));
    }

    #[test]
    fn defanged_context() {
        let m = context_scrape("foo[.]com hxxp[:]//bar(.)com/x", None, true, false);
        let got: Vec<(&str, &str, usize)> = m
            .iter()
            .map(|m| (m.form, m.text.as_str(), m.offset))
            .collect();
        assert_eq!(
            got,
            [
                ("inet:url", "hxxp[:]//bar(.)com/x", 10),
                ("inet:fqdn", "foo[.]com", 0),
                ("inet:fqdn", "bar(.)com", 19),
            ]
        );
    }

    #[test]
    fn first_only() {
        let m = context_scrape("1.2.3.4 foo.com", None, true, true);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].form, "inet:ipv4");
    }
}
