//! Telepath: the msgpack RPC protocol of Synapse 2.x.
//!
//! This crate will hold the wire codec (msgpack framing with the reference's value mapping),
//! the `tele:syn` handshake, the Daemon that shares objects over TCP, TLS and UNIX sockets, and
//! the Proxy and Client that call them: unary calls, generators, shares and remote exceptions.
