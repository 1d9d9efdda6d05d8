//! The scraper: arbitrary text, with and without re-fanging, checking match offsets.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    synapse_cortex::scrape::fuzzing::scrape(data);
});
