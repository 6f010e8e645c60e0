//! Events: the typed messages that flow between steps.

use std::fmt::Debug;
use std::ops::{Deref, DerefMut};

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// A typed message that steps consume and emit.
///
/// Derive it with `#[derive(Event)]`. Events are cloned when several steps
/// consume the same type (broadcast) and serialized for snapshots, hence the
/// supertraits.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a workflow event",
    label = "this type is used as an event in a `#[step]` signature",
    note = "add `#[derive(Event, Clone, Debug, Serialize, Deserialize)]` to `{Self}`"
)]
pub trait Event: Clone + Debug + Send + Serialize + DeserializeOwned + 'static {
    /// The event's name as written in diagrams and error messages.
    const NAME: &'static str;
}

/// The event that starts a run: it carries the run's typed input.
///
/// `MyFlow::run(input)` wraps `input` in a `StartEvent` and delivers it to
/// every step that takes `StartEvent<Input>`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StartEvent<T> {
    /// The input given to `run` or `start`.
    pub input: T,
}

impl<T> StartEvent<T> {
    /// Wraps a run's input.
    pub fn new(input: T) -> Self {
        Self { input }
    }

    /// Unwraps the input.
    pub fn into_input(self) -> T {
        self.input
    }
}

impl<T> Deref for StartEvent<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.input
    }
}

impl<T> DerefMut for StartEvent<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.input
    }
}

#[diagnostic::do_not_recommend]
impl<T> Event for StartEvent<T>
where
    T: Clone + Debug + Send + Serialize + DeserializeOwned + 'static,
{
    const NAME: &'static str = "StartEvent";
}

/// The event that ends a run: it carries the run's typed output.
///
/// The first `StopEvent` a step emits ends the run; `run` returns its result.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StopEvent<T> {
    /// The value `run` returns.
    pub result: T,
}

impl<T> StopEvent<T> {
    /// Wraps a run's result.
    pub fn new(result: T) -> Self {
        Self { result }
    }

    /// Unwraps the result.
    pub fn into_result(self) -> T {
        self.result
    }
}

#[diagnostic::do_not_recommend]
impl<T> Event for StopEvent<T>
where
    T: Clone + Debug + Send + Serialize + DeserializeOwned + 'static,
{
    const NAME: &'static str = "StopEvent";
}

/// A request for input from outside the run, such as a human's answer.
///
/// A step that returns it (or a type declared in `#[workflow(requests = [..])]`)
/// writes it to the caller's event stream; the run then waits for the caller
/// to answer with [`Handler::send_event`](crate::Handler::send_event), instead
/// of stalling, and need not have a consumer step.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct InputRequired<T> {
    /// What the caller is asked.
    pub request: T,
}

impl<T> InputRequired<T> {
    /// Wraps a request.
    pub fn new(request: T) -> Self {
        Self { request }
    }
}

#[diagnostic::do_not_recommend]
impl<T> Event for InputRequired<T>
where
    T: Clone + Debug + Send + Serialize + DeserializeOwned + 'static,
{
    const NAME: &'static str = "InputRequired";
}

/// An answer from outside the run, sent with
/// [`Handler::send_event`](crate::Handler::send_event).
///
/// No step emits it; the graph checks know it comes from the caller (as do
/// types declared in `#[workflow(external = [..])]`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HumanResponse<T> {
    /// The caller's answer.
    pub response: T,
}

impl<T> HumanResponse<T> {
    /// Wraps an answer.
    pub fn new(response: T) -> Self {
        Self { response }
    }
}

#[diagnostic::do_not_recommend]
impl<T> Event for HumanResponse<T>
where
    T: Clone + Debug + Send + Serialize + DeserializeOwned + 'static,
{
    const NAME: &'static str = "HumanResponse";
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
