//! Command-line tools of Synapse.
//!
//! The tools live in the `synapse-tools` binary (`src/main.rs`): the Storm CLI (`storm`), the
//! Axon file tools (`pushfile`, `pullfile`) and the cryotank tools (`cryo`). This library target
//! holds no API of its own.
