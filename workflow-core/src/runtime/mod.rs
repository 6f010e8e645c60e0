//! Running a workflow: a deterministic core, a tokio driver, and the caller's handle.
//!
//! `core` decides (state + input → commands) and knows nothing of tokio;
//! `driver` carries the commands out on tokio tasks; `link` carries what
//! steps and the caller send to the driver; `handler` is what the caller holds.

mod core;
mod driver;
mod handler;
mod link;
mod mailbox;
mod options;

pub(crate) use self::core::CoreParts;
pub use self::core::{RunEvent, RunOutcome};
pub use self::handler::{EventStream, Handler, RecoverError, Recovered, WorkflowExt};
pub(crate) use self::link::RunLink;
pub use self::options::RunOptions;
