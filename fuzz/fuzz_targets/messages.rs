//! The message parsers: `[type, info]`, todos, result envelopes, remote errors.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    synapse_telepath::fuzzing::messages(data);
});
