//! Cryotank: append-only record tanks.
//!
//! This crate will hold the CryoCell, which hosts named tanks of msgpack records with dense
//! offsets, and the telepath API of the reference.
