//! The Storm parser: arbitrary text in every parse mode (query, lookup, single value).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    synapse_cortex::storm::fuzzing::parse(data);
});
