//! Compile-time behaviour of the macros: what must compile, and the one error each mistake gets.
//!
//! Regenerate the `.stderr` files with `TRYBUILD=overwrite cargo test -p actor-macros --test ui`.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/pass/*.rs");
    cases.compile_fail("tests/ui/fail/*.rs");
}
