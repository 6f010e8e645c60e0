//! Shared plumbing of the stages: the error-collecting context, and the
//! nearest-name suggestions of its messages.

mod ctxt;
pub mod suggest;

pub use ctxt::{Ctxt, Reported};
