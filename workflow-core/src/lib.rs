//! Compile-time-checked, event-driven async workflows.
//!
//! Write steps as async methods of an `impl` block marked `#[workflow]`. Each
//! step consumes one event type and emits the event types in its return type;
//! the macro reads those signatures, proves at compile time that every event
//! has a consumer, every step is reachable and can reach the stop event, and
//! generates an enum of the workflow's events and the `match` that routes them.
//!
//! ```
//! use workflow_core::prelude::*;
//!
//! #[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
//! struct Greeted { text: String }
//!
//! struct Hello;
//!
//! #[workflow]
//! impl Hello {
//!     #[step]
//!     async fn greet(&self, ev: StartEvent<String>) -> Greeted {
//!         Greeted { text: format!("Hello, {}!", ev.input) }
//!     }
//!
//!     #[step]
//!     async fn finish(&self, ev: Greeted) -> StopEvent<String> {
//!         StopEvent::new(ev.text)
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let text = Hello.run("world".to_string()).await.unwrap();
//! assert_eq!(text, "Hello, world!");
//! # }
//! ```
//!
//! The guides in `docs/` (fundamentals, branches and loops, state) are
//! compiled and run as tests of this crate.

#![warn(missing_docs)]

extern crate self as workflow_core;

// The API in layers: what writing and running a workflow needs is at the
// root and in the prelude; snapshots, the registry, durable runs, traces
// and the contract with generated code are modules of their own; the
// runtime's internals are not public.
mod boxed;
pub mod context;
mod contract;
pub mod emit;
mod erased;
mod error;
mod event;
mod link;
mod outcome;
pub mod registry;
pub mod resource;
pub mod retry;
mod runtime;
mod schema;
pub mod snapshot;
mod store;
mod stream;
mod sync;
pub mod trace;
pub mod workflow;

pub use context::{Context, ContextError, SendError, WaitError};
pub use emit::{Emit, OneOf};
pub use error::{BoxError, WorkflowError};
pub use event::{Collected, Event, HumanResponse, InputRequired, StartEvent, StepFailed, StopEvent};
pub use resource::Resource;
pub use retry::{Backoff, RetryPolicy};
pub use runtime::{EventStream, Handler, RunEvent, RunFailure, RunOptions, RunOutcome, WorkflowExt};
pub use workflow::Workflow;

/// Child workflows: a step runs another workflow as part of its run with
/// [`Context::run_child`]; what that needs and gives.
pub mod child {
    pub use crate::runtime::{ChildError, ChildOf, ChildOptions};
    pub use crate::stream::ChildEvent;
}

/// Durable runs: where they journal themselves ([`RunStore`](durable::RunStore);
/// `RunOptions::durable` starts one) and what recovering them gives.
pub mod durable {
    pub use crate::runtime::{RecoverError, Recovered};
    pub use crate::store::{Journaled, RunStore, StateCodec};
}

/// Marks an `impl` block as a workflow; see the crate documentation.
pub use workflow_macros::workflow;

/// Marks a method of a `#[workflow]` impl as a step.
///
/// Arguments: `num_workers = N` (how many invocations may run at once,
/// default 4) and `skip = [check, ..]` (graph checks to waive for this step:
/// `unconsumed`, `unproduced`, `reachability`, `dead_end`).
pub use workflow_macros::step;

/// Derives [`Event`] for a struct or enum. With this spelling the item also
/// needs `Clone, Debug, Serialize, Deserialize, JsonSchema`, and the crate
/// `serde` and `schemars` in its `Cargo.toml`; [`event`] adds all of it.
pub use workflow_macros::Event;

/// Makes a struct or enum an event, in one attribute: `#[event] struct
/// Drafted { text: String }`. It adds `Clone, Debug, Serialize, Deserialize,
/// JsonSchema` and [`Event`] (leaving out any the item derives already),
/// with serde and schemars reached through this crate, so yours needs no
/// other dependency.
pub use workflow_macros::event;

/// Makes a struct or enum fit to be carried by events, returned by a
/// workflow or kept as its state: like [`event`], without `Event`.
pub use workflow_macros::data;

/// What a workflow author needs, in one import.
pub mod prelude {
    pub use crate::{
        data, event, step, workflow, Backoff, BoxError, Collected, Context, ContextError, Emit, Event,
        HumanResponse, InputRequired, OneOf, Resource, RetryPolicy, RunEvent, RunOptions, RunOutcome,
        SendError, StartEvent, StepFailed, StopEvent, WaitError, WorkflowError, WorkflowExt,
    };
    /// `handler.events().next()`, without a dependency on `futures`.
    pub use futures::StreamExt;
    pub use schemars::JsonSchema;
    pub use serde::{Deserialize, Serialize};
}

/// Items the generated code names by absolute path. Not a public API.
#[doc(hidden)]
pub mod __private {
    /// Names a workflow's generated enums from outside the block that
    /// defines them: `#[workflow]` defines the enums in an unnamed `const _`
    /// block (so a user type of the same name shadows nothing and clashes
    /// only with the public alias), implements this for a marker type, and
    /// exports `type FlowEvent = <Marker as Generated>::Event`.
    pub trait Generated {
        /// The event enum.
        type Event;
        /// The step enum.
        type Step;
    }

    pub use crate::contract::{
        Emitted, Recovers, Route, StepId, StepInfo, StepInput, StepOutcome, Variant, WorkflowEvent,
        WorkflowInfo, Wrap,
    };
    pub use crate::durable::StateCodec;
    pub use crate::emit::{Choice1, Choice2, Choice3, Choice4, Choice5, Choice6, Choice7, Choice8};
    pub use crate::error::box_error;
    pub use crate::registry::{journaled, start_json};
    pub use crate::registry::{JsonBegin, JsonRun, Registration, StartError};
    pub use crate::resource;
    pub use crate::runtime::ChildOf;
    pub use crate::RunOptions;
    pub use crate::{BoxError, Collected, Context, Emit, Event, Resource, RetryPolicy, StepFailed, Workflow};

    /// A step's retry policy, boxed for the workflow's table.
    pub fn retry_policy(policy: impl RetryPolicy) -> Box<dyn RetryPolicy> {
        Box::new(policy)
    }
    pub use inventory;
    pub use schemars;
    pub use serde;
    pub use serde_json;
    pub use std::sync::Arc;

    /// The error of an input that reached a step which does not take it: a
    /// bug in the macro, reported as a step failure rather than a panic.
    pub fn misrouted(info: &WorkflowInfo, step: StepId) -> BoxError {
        let step = info.steps.get(step).map_or("<unknown>", |s| s.name);
        format!(
            "internal routing error in workflow `{}`: step `{step}` was given an event it does not take",
            info.name
        )
        .into()
    }

    /// The event and step type of a workflow whose `#[workflow]` expansion
    /// failed: it has no values, so the stand-in impl can never run, and it
    /// accepts every conversion, so that step bodies add no errors of their own.
    #[derive(Clone, Copy, Debug)]
    pub enum Unreachable {}

    /// The graph of a workflow whose expansion failed.
    pub const UNREACHABLE_INFO: WorkflowInfo = WorkflowInfo {
        name: "<invalid>",
        start: "",
        stop: "",
        events: &[],
        steps: &[],
        routes: &[],
        step_failed: None,
        answers: &[],
        requests: &[],
        mermaid: "",
        num_concurrent_runs: None,
    };

    /// A workflow whose expansion failed runs any child: its steps' own
    /// `run_child` calls add no errors to the one the macro reported.
    #[doc(hidden)]
    impl<C: Workflow> ChildOf<Unreachable> for C {}

    // What a caller commonly does with a run's output (print it, compare
    // it), so that a failed expansion adds no errors where the output is used.
    impl std::fmt::Display for Unreachable {
        fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            match *self {}
        }
    }

    impl<T> PartialEq<T> for Unreachable {
        fn eq(&self, _: &T) -> bool {
            match *self {}
        }
    }

    impl serde::Serialize for Unreachable {
        fn serialize<Se: serde::Serializer>(&self, _: Se) -> Result<Se::Ok, Se::Error> {
            match *self {}
        }
    }

    impl From<Unreachable> for StepId {
        fn from(never: Unreachable) -> StepId {
            match never {}
        }
    }

    impl WorkflowEvent for Unreachable {
        type Step = Unreachable;
        const INFO: &'static WorkflowInfo = &UNREACHABLE_INFO;
        fn name(&self) -> &'static str {
            match *self {}
        }
        fn index(&self) -> usize {
            match *self {}
        }
        fn accepted_by(&self, _: StepId) -> bool {
            match *self {}
        }
        fn sent_by(&self, _: StepId) -> bool {
            match *self {}
        }
        fn streamed_by(&self, _: StepId) -> bool {
            match *self {}
        }
        fn to_json(&self) -> Result<serde_json::Value, serde_json::Error> {
            match *self {}
        }
        fn from_json(_: &str, _: serde_json::Value) -> Option<Result<Self, serde_json::Error>> {
            None
        }
        fn step_failed(_: StepFailed) -> Option<Self> {
            None
        }
    }

    #[doc(hidden)]
    #[diagnostic::do_not_recommend]
    impl<T> Variant<T> for Unreachable {
        const INDEX: usize = 0;
        fn as_variant(&self) -> Option<&T> {
            match *self {}
        }
        fn into_variant(self) -> Result<T, Self> {
            match self {}
        }
    }

    #[diagnostic::do_not_recommend]
    impl<T> Wrap<T> for Unreachable {
        fn wrap(_: T) -> Unreachable {
            unreachable!("a workflow that failed to expand never runs")
        }
    }

    /// The JSON Schema of `T`, as a function the registry can hold.
    pub fn schema_of<T: schemars::JsonSchema>() -> schemars::Schema {
        crate::schema::schema_of::<T>()
    }

    /// The JSON Schema of an event. Bounded by `Event`, not `JsonSchema`: the
    /// generated registration calls it for every event type, which is also
    /// the compile-time check, spanned at the user's type, that it is an event.
    pub fn event_schema<T: Event>() -> schemars::Schema {
        crate::schema::schema_of::<T>()
    }

    /// Finds a way to build a workflow for the registry: `(&&Probe::<W>::new()).constructor()`
    /// is `W::default` when `W: Default`, else `None` (autoref specialization:
    /// the first trait's method takes `&&Probe`, the fallback's `&Probe`).
    pub struct Probe<W>(std::marker::PhantomData<W>);

    impl<W> Probe<W> {
        #[allow(clippy::new_without_default)] // `Default` would defeat the probe's purpose
        pub const fn new() -> Self {
            Probe(std::marker::PhantomData)
        }
    }

    /// The constructor a registry uses to build `W`.
    pub type Constructor<W> = Option<fn() -> Result<W, BoxError>>;

    pub trait ByDefault<W> {
        fn constructor(&self) -> Constructor<W>;
    }

    impl<W: Default> ByDefault<W> for &Probe<W> {
        fn constructor(&self) -> Constructor<W> {
            Some(|| Ok(W::default()))
        }
    }

    pub trait NoConstructor<W> {
        fn constructor(&self) -> Constructor<W>;
    }

    impl<W> NoConstructor<W> for Probe<W> {
        fn constructor(&self) -> Constructor<W> {
            None
        }
    }

    /// Finds how to journal a workflow's state: `(&&Probe::<S>::new()).state_codec()`
    /// is serde's when `S: Serialize + DeserializeOwned`, else `None`.
    pub trait SerdeState<S> {
        fn state_codec(&self) -> Option<crate::durable::StateCodec<S>>;
    }

    impl<S: serde::Serialize + serde::de::DeserializeOwned> SerdeState<S> for &Probe<S> {
        fn state_codec(&self) -> Option<crate::durable::StateCodec<S>> {
            Some(crate::durable::StateCodec::serde())
        }
    }

    pub trait OpaqueState<S> {
        fn state_codec(&self) -> Option<crate::durable::StateCodec<S>>;
    }

    impl<S> OpaqueState<S> for Probe<S> {
        fn state_codec(&self) -> Option<crate::durable::StateCodec<S>> {
            None
        }
    }

    /// What `#[workflow(new = path)]`'s function returns: the workflow, or a
    /// `Result` of it.
    pub trait Constructed<W> {
        fn into_workflow(self) -> Result<W, BoxError>;
    }

    impl<W> Constructed<W> for W {
        fn into_workflow(self) -> Result<W, BoxError> {
            Ok(self)
        }
    }

    impl<W, E: Into<BoxError>> Constructed<W> for Result<W, E> {
        fn into_workflow(self) -> Result<W, BoxError> {
            self.map_err(Into::into)
        }
    }
}

#[cfg(doctest)]
mod guides {
    #[doc = include_str!("../../README.md")]
    mod readme {}
    #[doc = include_str!("../../docs/fundamentals.md")]
    mod fundamentals {}
    #[doc = include_str!("../../docs/branches-and-loops.md")]
    mod branches_and_loops {}
    #[doc = include_str!("../../docs/state.md")]
    mod state {}
    #[doc = include_str!("../../docs/concurrency.md")]
    mod concurrency {}
    #[doc = include_str!("../../docs/streaming.md")]
    mod streaming {}
    #[doc = include_str!("../../docs/human-in-the-loop.md")]
    mod human_in_the_loop {}
    #[doc = include_str!("../../docs/retries-and-errors.md")]
    mod retries_and_errors {}
    #[doc = include_str!("../../docs/resources.md")]
    mod resources {}
    #[doc = include_str!("../../docs/child-workflows.md")]
    mod child_workflows {}
    #[doc = include_str!("../../docs/discovery.md")]
    mod discovery {}
    #[doc = include_str!("../../docs/snapshots.md")]
    mod snapshots {}
    #[doc = include_str!("../../docs/event-identity.md")]
    mod event_identity {}
    #[doc = include_str!("../../docs/generic-workflows.md")]
    mod generic_workflows {}
}
