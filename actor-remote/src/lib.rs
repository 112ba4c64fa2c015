//! Remote messaging between `actor-core` nodes.
//!
//! This crate is a placeholder in the workspace layout: the transport, wire
//! format and remote references land with the remote issue. It depends on
//! `actor-core` only through its public API, which keeps the core free of any
//! knowledge of sockets.
