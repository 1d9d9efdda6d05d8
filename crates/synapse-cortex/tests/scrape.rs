//! Scrape tests: table tests against what the reference's scraper finds in a varied corpus
//! (`tests/data/gen_scrape_vectors.py`), and property tests (no input panics, offsets and match
//! texts always point into the original text).

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::io::Read;

use proptest::prelude::*;
use serde_json::Value as Json;
use synapse_cortex::scrape::{self, ScrapeMatch, Scraped};

fn vectors() -> Vec<Json> {
    let gz = include_bytes!("data/scrape_vectors.jsonl.gz");
    let mut text = String::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_string(&mut text)
        .unwrap();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn as_json(m: &ScrapeMatch) -> Json {
    let valu = match &m.valu {
        Scraped::Str(s) => Json::from(s.as_str()),
        Scraped::Coin(c, a) => Json::from(vec![*c, a.as_str()]),
    };
    Json::from(vec![
        Json::from(m.form),
        valu,
        Json::from(m.text.as_str()),
        Json::from(m.offset),
    ])
}

#[test]
fn matches_reference_vectors() {
    let vecs = vectors();
    assert!(vecs.len() > 5000, "too few vectors: {}", vecs.len());
    let mut bad = Vec::new();
    for v in &vecs {
        let text = v["text"].as_str().unwrap();
        let refang = v["refang"].as_bool().unwrap();
        let first = v["first"].as_bool().unwrap();
        let got: Vec<Json> = scrape::context_scrape(text, None, refang, first)
            .iter()
            .map(as_json)
            .collect();
        if Json::from(got.clone()) != v["out"] {
            bad.push(format!(
                "text={text:?} refang={refang} first={first}\n  want={}\n  got ={}",
                v["out"],
                Json::from(got)
            ));
        }
    }
    assert!(
        bad.is_empty(),
        "{} of {} vectors differ:\n{}",
        bad.len(),
        vecs.len(),
        bad.iter().take(30).cloned().collect::<Vec<_>>().join("\n")
    );
}

#[test]
fn form_filter_and_unique() {
    let text = "1.2.3.4 foo.com 1.2.3.4 hxxp://foo[.]com";
    let all = scrape::scrape(text, None, true);
    assert_eq!(
        all,
        vec![
            ("inet:url", Scraped::Str("http://foo.com".into())),
            ("inet:ipv4", Scraped::Str("1.2.3.4".into())),
            ("inet:fqdn", Scraped::Str("foo.com".into())),
        ]
    );
    let fqdns = scrape::scrape(text, Some("inet:fqdn"), true);
    assert_eq!(fqdns, vec![("inet:fqdn", Scraped::Str("foo.com".into()))]);
    // without re-fanging, the defanged URL is taken as is (`hxxp` is a registered scheme)
    let raw = scrape::scrape(text, Some("inet:url"), false);
    assert_eq!(
        raw,
        vec![("inet:url", Scraped::Str("hxxp://foo[.]com".into()))]
    );
}

fn arb_text() -> impl Strategy<Value = String> {
    let atoms = prop_oneof![
        Just("http://".to_owned()),
        Just("hxxp[:]//".to_owned()),
        Just("[.]".to_owned()),
        Just("(.)".to_owned()),
        Just(".com".to_owned()),
        Just("@".to_owned()),
        Just("::".to_owned()),
        Just("\\\\".to_owned()),
        Just("/etc/".to_owned()),
        Just("c:\\".to_owned()),
        Just("1.2.3.4".to_owned()),
        Just("CVE-2020-1234".to_owned()),
        Just("cpe:2.3:a:".to_owned()),
        "[a-f0-9]{1,70}",
        "[ -~]{0,12}",
        "\\PC{0,6}",
    ];
    prop::collection::vec(atoms, 0..12).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Any text scrapes without panicking, every match is the original text at its offset
    /// (re-fanged matches map back), and the first-only scrape is the first of the full one.
    #[test]
    fn matches_point_into_the_text(text in arb_text()) {
        scrape::fuzzing::check_text(&text);
    }

    /// Without re-fanging, a plain value (no rewriting rule) is the matched text itself.
    #[test]
    fn plain_values_are_their_match(text in arb_text()) {
        for m in scrape::context_scrape(&text, None, false, false) {
            if let Scraped::Str(v) = &m.valu
                && matches!(m.form, "inet:ipv4" | "inet:fqdn" | "hash:md5" | "hash:sha1" | "inet:email")
            {
                prop_assert_eq!(v, &m.text);
            }
        }
    }
}

/// FQDNs that UTS 46 rejects (bidi rule) but the IDNA 2003 codec accepts normalize as in the
/// reference (values recorded from it), so their scrapes make nodes.
#[test]
fn fqdn_idna2003_fallback() {
    let model = synapse_cortex::model::Model::load_default().unwrap();
    let ty = model.ty("inet:fqdn").unwrap();
    for (text, want) in [
        ("zee\u{660}.com", Some("xn--zee-85e.com")),
        ("f\u{660}a\u{df}.de", Some("xn--fass-5eg.de")),
        ("bee\u{660}p-thing.com", Some("xn--beep-thing-1rn.com")),
        ("a\u{3c2}b.com", Some("xn--ab-sbc.com")),
        ("stra\u{df}e.de", Some("xn--strae-oqa.de")),
        ("x\u{5d0}.com", None),
    ] {
        let got = ty.norm(&rmpv::Value::from(text)).ok().map(|(v, _)| v);
        assert_eq!(got, want.map(rmpv::Value::from), "{text}");
    }
}
