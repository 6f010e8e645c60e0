//! Running a workflow: a deterministic core, a tokio driver, and the caller's handle.
//!
//! `core` decides (state + input → commands) and knows nothing of tokio;
//! `driver` carries the commands out on tokio tasks; `handler` is what the
//! caller holds.

mod core;
mod driver;
mod handler;
mod options;

pub use self::core::{Command, RunCore, StepFailure};
pub use self::handler::{Handler, WorkflowExt};
pub use self::options::RunOptions;
