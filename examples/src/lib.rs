//! Runnable examples; see `examples/README.md` for the index. This library
//! holds what several of them share.

pub mod cluster;
