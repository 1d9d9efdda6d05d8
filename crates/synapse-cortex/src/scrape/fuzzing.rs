//! Fuzzing entry point for the scraper, shared by the `scrape` target in `fuzz/` and by the
//! property tests. It never panics on any input; it panics only when a checked property of
//! the scraper is broken.

/// Scrape `data` (as UTF-8, lossily) with and without re-fanging and check the results.
pub fn scrape(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    check_text(&text);
}

/// Scrape `text` both ways and check that every match is the original text at its offset,
/// that the first-only scrape is the first of the full one, and that the forms are known.
pub fn check_text(text: &str) {
    let chars: Vec<char> = text.chars().collect();
    let forms = super::forms();
    for refang in [true, false] {
        let all = super::context_scrape(text, None, refang, false);
        for m in &all {
            assert!(forms.contains(&m.form), "unknown form {}", m.form);
            let start = m.offset.min(chars.len());
            let end = (m.offset + m.text.chars().count()).min(chars.len());
            let at: String = chars[start..end].iter().collect();
            assert_eq!(at, m.text, "match text is not the text at its offset");
        }
        let first = super::context_scrape(text, None, refang, true);
        assert_eq!(first.first(), all.first(), "first-only scrape differs");
        assert!(first.len() <= 1);
    }
}
