//! Runnable examples; see `examples/README.md` for the index.
