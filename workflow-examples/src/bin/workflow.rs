//! The `workflow` command over the example workflows:
//! `cargo run -p workflow-examples --bin workflow -- list`.

use std::process::ExitCode;

fn main() -> ExitCode {
    // Naming the examples crate keeps it linked, and with it their registrations.
    workflow_examples::link();
    workflow_cli::main()
}
