//! Shared plumbing of the stages: the error-collecting context.

mod ctxt;

pub use ctxt::Ctxt;
