//! Server binaries: `synapse-servers cell|cortex|axon|cryotank DIRN`.
//!
//! The launcher lives in the binary (`src/main.rs`): it parses the reference's flags, opens the
//! service's cell on the directory, serves telepath and HTTPS, and shuts down cleanly on
//! SIGTERM or SIGINT. This library target holds no API of its own.
