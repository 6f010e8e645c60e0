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
