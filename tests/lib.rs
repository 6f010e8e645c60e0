//! Integration tests of the workflow framework live beside this file:
//! `runtime.rs` (run semantics and error paths), `compile.rs` (what the macro
//! accepts and rejects, with `ui/`).

/// The input of the expansion snapshot in `docs/expanded/`, compiled here so
/// that the snapshot always documents code that builds.
#[path = "../docs/expanded/branch.rs"]
pub mod expansion_input;
