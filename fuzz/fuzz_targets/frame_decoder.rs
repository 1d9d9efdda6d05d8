//! The streaming frame decoder: arbitrary bytes in arbitrary chunks, with a size limit.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    synapse_telepath::fuzzing::frames(data);
});
