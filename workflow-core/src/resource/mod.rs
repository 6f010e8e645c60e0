//! Resources: what steps use beyond the workflow's own fields (an LLM
//! client, a database pool, a memory), built by a factory on first use and
//! handed to the steps that name them in their signature.
//!
//! A factory is declared either on the workflow itself, as a method marked
//! `#[resource]` (the macro sees it, so a dependency cycle between such
//! factories is a compile error), or anywhere else as a type implementing
//! [`ResourceFactory`] and named in `#[workflow(resources = [name = Type])]`
//! (a cycle between those is found when a run starts, before any step runs,
//! and reported as [`ResourceError::Cycle`]).
//!
//! A cached resource (the default) is built once per workflow instance, the
//! `Arc<W>` its runs are started on, and shared by its steps and runs; an
//! uncached one (`#[resource(cache = false)]`, [`ResourceFactory::CACHE`])
//! is built for each step call that takes it. See `docs/resources.md`.

mod cache;
mod factory;

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use crate::boxed::BoxError;

#[doc(hidden)]
pub use cache::{cache_of, Cache};
#[doc(hidden)]
pub use factory::{acyclic, node, shared, Node};
pub use factory::{Needs, ResourceFactory};

/// A resource a step or factory takes: `memory: Resource<Memory>` in its
/// signature, where `memory` names the factory. It derefs to the value.
///
/// A cached resource is shared (an `Arc` inside), so mutating it needs
/// interior mutability; an uncached one is this call's alone, and
/// [`Resource::into_inner`] or [`Resource::get_mut`] give it back owned.
pub struct Resource<T>(Arc<T>);

impl<T> Resource<T> {
    /// Wraps a value: to call a step directly, in a test, with a resource
    /// of your own.
    pub fn new(value: T) -> Self {
        Resource(Arc::new(value))
    }

    /// The shared value, to keep it beyond the step.
    pub fn into_arc(this: Self) -> Arc<T> {
        this.0
    }

    /// The value, if nothing else holds it (an uncached resource).
    pub fn into_inner(this: Self) -> Option<T> {
        Arc::into_inner(this.0)
    }

    /// The value, mutably, if nothing else holds it (an uncached resource).
    pub fn get_mut(this: &mut Self) -> Option<&mut T> {
        Arc::get_mut(&mut this.0)
    }

    pub(crate) fn from_arc(value: Arc<T>) -> Self {
        Resource(value)
    }
}

impl<T> Deref for Resource<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> AsRef<T> for Resource<T> {
    fn as_ref(&self) -> &T {
        &self.0
    }
}

impl<T> Clone for Resource<T> {
    fn clone(&self) -> Self {
        Resource(Arc::clone(&self.0))
    }
}

impl<T: fmt::Debug> fmt::Debug for Resource<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Why a resource could not be had.
#[derive(Debug, thiserror::Error)]
pub enum ResourceError {
    /// Its factory (or the factory of one it is built from) failed. The
    /// step that needed it fails with this error, so its retry policy and
    /// failure handlers apply; the next use builds it again.
    #[error("resource `{resource}` needed by step `{step}` could not be built: {source}")]
    Build {
        /// The resource whose factory failed.
        resource: &'static str,
        /// The step that needed it (directly or through another resource).
        step: &'static str,
        /// What the factory returned.
        #[source]
        source: BoxError,
    },

    /// Factories declared outside the workflow need each other in a circle,
    /// so none can be built: found when a run starts, before any step runs.
    #[error(
        "the resource factories need each other in a cycle, `{cycle}`, so none of them can be built; \
         remove one of these needs"
    )]
    Cycle {
        /// The factories around the cycle, `A -> B -> A`.
        cycle: String,
    },
}

/// Wraps what a factory returned as the error of resource `resource`.
#[doc(hidden)]
pub fn failed(resource: &'static str, step: &'static str, error: impl Into<BoxError>) -> ResourceError {
    ResourceError::Build { resource, step, source: error.into() }
}
