//! What the `#[workflow]` macro accepts and rejects, checked by compiling.
//!
//! `ui/fail/*.rs` must fail with exactly the error in the `.stderr` beside
//! it; `ui/pass/*.rs` must compile and run. Refresh the snapshots after a
//! deliberate change of wording with `TRYBUILD=overwrite cargo test --test compile`.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("ui/fail/*.rs");
    t.pass("ui/pass/*.rs");
}
