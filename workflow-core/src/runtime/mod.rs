//! Running a workflow: a deterministic core, a tokio driver, and the caller's handle.
//!
//! `core` decides (one input in, commands out) and knows nothing of tokio;
//! `driver` tells it what happened and carries its commands out on tokio
//! tasks; `handler` is what the caller holds; `options` is how a run is
//! set up, `durable` how it journals itself, `verbose` how it reports.

mod child;
mod core;
mod driver;
mod durable;
mod handle;
mod handler;
mod limit;
mod options;
mod table;
mod typed;
mod verbose;

pub use self::child::{ChildError, ChildOf, ChildOptions};
pub use self::core::{RunEvent, RunFailure, RunOutcome};
pub use self::durable::RecoverError;
pub(crate) use self::handle::RunHandle;
pub(crate) use self::handler::resume_reading;
pub use self::handler::{EventStream, Handler, Recovered, WorkflowExt};
pub use self::options::RunOptions;
