//! Property tests: the parser never panics and keeps its invariants on arbitrary input (the
//! same checks the `storm_parse` fuzz target runs).

use proptest::prelude::*;
use synapse_cortex::storm::fuzzing;

use super::fixture;

/// Pieces Storm is made of, so that random sequences reach deep into the grammar.
const PIECES: &[&str] = &[
    "inet:fqdn",
    "inet:ipv4:asn",
    ".seen",
    ":asn",
    ":$x",
    "#foo",
    "#foo.*",
    "##bar",
    "$x",
    "$lib.print",
    "=",
    "?=",
    "+=",
    "~=",
    "*range=",
    "*[",
    "]",
    "[",
    "(",
    ")",
    "{",
    "}",
    "${",
    "`",
    "'",
    "\"",
    "'''",
    "->",
    "-+>",
    "<-",
    "<+-",
    "-->",
    "<--",
    "-(",
    ")>",
    "<(",
    ")-",
    "+(",
    ")+",
    "|",
    ",",
    ":",
    "*",
    "+",
    "-",
    "$(",
    "1",
    "0x10",
    "-5",
    "3.5",
    "true",
    "null",
    "and",
    "or",
    "not",
    "for",
    "in",
    "if",
    "elif",
    "else",
    "while",
    "switch",
    "try",
    "catch",
    "as",
    "function",
    "return",
    "emit",
    "stop",
    "break",
    "continue",
    "init",
    "fini",
    "empty",
    "yield",
    "reverse",
    "limit",
    "--opt",
    "foo",
    "a,b",
    "x=y",
    " ",
    "  ",
    "\n",
    "\t",
    "//c\n",
    "/*c*/",
    "é",
    "\u{2028}",
    "\\",
    "@=",
    "!=",
    "<",
    ">",
];

fn soup() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(PIECES), 0..40).prop_map(|pieces| pieces.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn token_soup_never_breaks_the_parser(text in soup()) {
        fuzzing::check_text(&text);
    }

    #[test]
    fn arbitrary_text_never_breaks_the_parser(text in "\\PC{0,120}") {
        fuzzing::check_text(&text);
    }

    #[test]
    fn arbitrary_bytes_never_break_the_parser(data in prop::collection::vec(any::<u8>(), 0..200)) {
        fuzzing::parse(&data);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn mutated_corpus_queries_never_break_the_parser(
        pick in any::<prop::sample::Index>(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), 0usize..6, prop::sample::select(PIECES)), 1..4),
    ) {
        let queries = corpus();
        let mut text = queries[pick.index(queries.len())].clone();
        for (at, cut, piece) in edits {
            let boundaries: Vec<usize> = (0..=text.len()).filter(|idx| text.is_char_boundary(*idx)).collect();
            let start = boundaries[at.index(boundaries.len())];
            let end = boundaries.iter().copied().filter(|idx| *idx >= start).nth(cut).unwrap_or(text.len());
            text.replace_range(start..end, piece);
        }
        fuzzing::check_text(&text);
    }
}

fn corpus() -> &'static Vec<String> {
    static QUERIES: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    QUERIES.get_or_init(|| {
        fixture::entries()
            .into_iter()
            .filter(|entry| !entry.src.ends_with("-mut"))
            .map(|entry| entry.query)
            .collect()
    })
}
