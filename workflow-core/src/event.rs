//! Events: the typed messages that flow between steps.

use std::fmt::Debug;
use std::ops::{Deref, DerefMut};

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// A typed message that steps consume and emit.
///
/// Derive it with `#[derive(Event, JsonSchema)]`. Events are cloned when several steps
/// consume the same type (broadcast) and serialized for snapshots, hence the
/// supertraits.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a workflow event",
    label = "this type is used as an event in a `#[step]` signature",
    note = "add `#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]` to `{Self}`",
    note = "`#[workflow]` reads signatures as written: if the type written here is an alias, write `{Self}` in its place"
)]
pub trait Event: Clone + Debug + Send + Serialize + DeserializeOwned + JsonSchema + 'static {
    /// The event's name as written in diagrams and error messages.
    const NAME: &'static str;
}

/// Defines a library event that wraps one payload field: the struct, `new`,
/// a getter that unwraps it, `Deref` to the payload, and its `Event` impl.
macro_rules! wrapper_event {
    ($(#[$doc:meta])* $name:ident { $(#[$field_doc:meta])* $field:ident } fn $unwrap:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
        pub struct $name<T> {
            $(#[$field_doc])*
            pub $field: T,
        }

        impl<T> $name<T> {
            #[doc = concat!("Wraps the `", stringify!($field), "`.")]
            pub fn new($field: T) -> Self {
                Self { $field }
            }

            #[doc = concat!("Unwraps the `", stringify!($field), "`.")]
            pub fn $unwrap(self) -> T {
                self.$field
            }
        }

        impl<T> Deref for $name<T> {
            type Target = T;
            fn deref(&self) -> &T {
                &self.$field
            }
        }

        impl<T> DerefMut for $name<T> {
            fn deref_mut(&mut self) -> &mut T {
                &mut self.$field
            }
        }

        #[diagnostic::do_not_recommend]
        impl<T> Event for $name<T>
        where
            T: Clone + Debug + Send + Serialize + DeserializeOwned + JsonSchema + 'static,
        {
            const NAME: &'static str = stringify!($name);
        }
    };
}

wrapper_event! {
    /// The event that starts a run: it carries the run's typed input.
    ///
    /// `MyFlow::run(input)` wraps `input` in a `StartEvent` and delivers it to
    /// every step that takes `StartEvent<Input>`.
    StartEvent {
        /// The input given to `run` or `start`.
        input
    } fn into_input
}

wrapper_event! {
    /// The event that ends a run: it carries the run's typed output.
    ///
    /// The first `StopEvent` a step emits ends the run; `run` returns its result.
    StopEvent {
        /// The value `run` returns.
        result
    } fn into_result
}

wrapper_event! {
    /// A request for input from outside the run, such as a human's answer.
    ///
    /// A step that returns it (or a type declared in `#[workflow(requests = [..])]`)
    /// writes it to the caller's event stream; the run then waits for the caller
    /// to answer with [`Handler::send_event`](crate::Handler::send_event), instead
    /// of stalling, and need not have a consumer step.
    InputRequired {
        /// What the caller is asked.
        request
    } fn into_request
}

wrapper_event! {
    /// An answer from outside the run, sent with
    /// [`Handler::send_event`](crate::Handler::send_event).
    ///
    /// No step emits it; the graph checks know it comes from the caller (as do
    /// types declared in `#[workflow(external = [..])]`).
    HumanResponse {
        /// The caller's answer.
        response
    } fn into_response
}

/// Emitted by the runtime when a step fails for good (after its retries), if
/// some step consumes it: that step may recover the run by emitting another
/// event or the stop event. Without such a step, the failure ends the run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct StepFailed {
    /// The step that failed.
    pub step: String,
    /// The name of the event it was given.
    pub event: String,
    /// That event, as JSON (`null` if it could not be serialized).
    pub input: serde_json::Value,
    /// The error's message, or the panic's.
    pub error: String,
    /// How many times the step was tried.
    pub attempts: u32,
}

#[diagnostic::do_not_recommend]
impl Event for StepFailed {
    const NAME: &'static str = "StepFailed";
}

/// Every event of one type that came out of one fan-out, delivered at once.
///
/// A step that takes `ev: Collected<R>` runs once per fan-out (a step that
/// returned `Vec<E>`), when every event of the fan-out and everything that
/// followed from it has been handled, with all the `R`s that were produced:
/// no counting, and no hang if some branch produced nothing. An `R` that did
/// not come from a fan-out is delivered alone.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Collected<T> {
    /// The collected events, in the order they were emitted.
    pub events: Vec<T>,
}

impl<T> Collected<T> {
    /// Wraps collected events.
    pub fn new(events: Vec<T>) -> Self {
        Self { events }
    }
}

impl<T> Deref for Collected<T> {
    type Target = Vec<T>;
    fn deref(&self) -> &Vec<T> {
        &self.events
    }
}

impl<T> IntoIterator for Collected<T> {
    type Item = T;
    type IntoIter = std::vec::IntoIter<T>;
    fn into_iter(self) -> Self::IntoIter {
        self.events.into_iter()
    }
}
