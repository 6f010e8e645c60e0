//! `Context<S>`: state shared by the steps of a run (and by sequential runs),
//! and, inside a step, the handle on the run: send, stream, wait, collect.

use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::contract::{InputId, InvocationId, StepId, Variant, WorkflowEvent};
use crate::erased::{erase_all, typed_all, ErasedEvent};
use crate::error::WorkflowError;
use crate::link::RunLink;
use crate::sync::lock;

mod collect;
mod wait;

pub use crate::contract::Wrap;
pub use crate::error::SendError;
pub use collect::Collect;
pub use wait::{WaitError, WaitFor};

/// Shared state of a workflow: a typed value `S` plus a JSON key-value store.
///
/// A step receives it by declaring a `ctx: &Context<S>` parameter. Every
/// edit happens under a lock, so an edit is atomic with respect to the other
/// steps. Cloning a `Context` gives another handle on the same state.
///
/// One context can serve several runs one after another (its state carries
/// over); giving it to a second run while a first is still going fails with
/// [`WorkflowError::ContextBusy`].
///
/// Inside a step, the context is also the step's handle on its run (the
/// macro fills in `E`, the workflow's event enum): [`send_event`](Self::send_event),
/// [`write_event_to_stream`](Self::write_event_to_stream),
/// [`wait_for_event`](Self::wait_for_event), [`collect_events`](Self::collect_events)
/// and [`attempt`](Self::attempt).
pub struct Context<S, E = ()> {
    shared: Arc<Shared<S>>,
    scope: Option<Scope>,
    /// The workflow's events, which the scope's link carries erased.
    _events: PhantomData<fn(E) -> E>,
}

struct Shared<S> {
    state: Mutex<S>,
    store: Mutex<Map<String, Value>>,
    in_use: AtomicBool,
}

/// What a step's context knows of the invocation it was given to.
pub(crate) struct Scope {
    pub(crate) link: Arc<RunLink>,
    pub(crate) invocation: InvocationId,
    pub(crate) step: StepId,
    pub(crate) worker: usize,
    pub(crate) attempt: u32,
    /// The input's lasting id, which names the child runs it starts.
    pub(crate) input: InputId,
}

impl Clone for Scope {
    fn clone(&self) -> Self {
        Self {
            link: Arc::clone(&self.link),
            invocation: self.invocation,
            step: self.step,
            worker: self.worker,
            attempt: self.attempt,
            input: self.input,
        }
    }
}

/// Which attempt of a step invocation is running, and how the one before
/// it failed: [`Context::retry_info`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryInfo {
    /// 1 for the first try, then 2, 3… on retries (after a failure handler
    /// recovered the step, its attempts go on counting); 0 outside a step.
    pub attempt: u32,
    /// The previous attempt's error message, on a retry.
    pub previous_error: Option<Arc<str>>,
}

/// What went wrong reading or writing the key-value store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ContextError {
    /// No value is stored under the key.
    #[error(
        "no value under key `{key}` in the context store; set it with `ctx.set(\"{key}\", ..)` \
         before reading it, or read it with `ctx.get_or`"
    )]
    MissingKey {
        /// The key that was read.
        key: String,
    },

    /// The stored value does not deserialize into the requested type.
    #[error("the value under key `{key}` is not a `{expected}`: {source}")]
    WrongType {
        /// The key that was read.
        key: String,
        /// The type the caller asked for.
        expected: &'static str,
        /// What serde reported.
        #[source]
        source: serde_json::Error,
    },

    /// The value could not be turned into JSON.
    #[error("the value for key `{key}` cannot be stored as JSON: {source}")]
    NotSerializable {
        /// The key that was written.
        key: String,
        /// What serde reported.
        #[source]
        source: serde_json::Error,
    },
}

impl<S: Default> Context<S> {
    /// A context with `S::default()` and an empty store.
    pub fn new() -> Self {
        Self::with_state(S::default())
    }
}

impl<S: Default> Default for Context<S> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S, E> Clone for Context<S, E> {
    fn clone(&self) -> Self {
        Self { shared: Arc::clone(&self.shared), scope: self.scope.clone(), _events: PhantomData }
    }
}

impl<S, E> std::fmt::Debug for Context<S, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("state", &std::any::type_name::<S>())
            .field("in_use", &self.shared.in_use.load(Ordering::Relaxed))
            .field("step", &self.scope.as_ref().map(|s| s.step))
            .finish_non_exhaustive()
    }
}

impl<S> Context<S> {
    /// A context that starts from `state`.
    pub fn with_state(state: S) -> Self {
        Self {
            shared: Arc::new(Shared {
                state: Mutex::new(state),
                store: Mutex::new(Map::new()),
                in_use: AtomicBool::new(false),
            }),
            scope: None,
            _events: PhantomData,
        }
    }

    /// Claims the context for one run; the claim ends when the lease drops.
    pub(crate) fn lease(&self, workflow: &'static str) -> Result<Lease<S>, WorkflowError> {
        self.shared
            .in_use
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .map_err(|_| WorkflowError::ContextBusy { workflow })?;
        Ok(Lease { context: self.clone() })
    }

    /// The view of this context that one step invocation is given.
    pub(crate) fn scoped<E>(&self, scope: Scope) -> Context<S, E> {
        Context { shared: Arc::clone(&self.shared), scope: Some(scope), _events: PhantomData }
    }
}

impl<S, E> Context<S, E> {
    /// Edits the typed state atomically and returns what `edit` returns.
    ///
    /// The lock is held only while `edit` runs, which is why it is not async:
    /// no other step can observe a half-made edit, and none can deadlock on it.
    pub fn update<R>(&self, edit: impl FnOnce(&mut S) -> R) -> R {
        edit(&mut lock(&self.shared.state))
    }

    /// Reads the typed state under the lock.
    pub fn read<R>(&self, read: impl FnOnce(&S) -> R) -> R {
        read(&lock(&self.shared.state))
    }

    /// A copy of the typed state.
    pub fn state(&self) -> S
    where
        S: Clone,
    {
        self.read(S::clone)
    }

    /// Stores `value` as JSON under `key`, replacing any previous value.
    pub fn set<T: Serialize>(&self, key: impl Into<String>, value: T) -> Result<(), ContextError> {
        let key = key.into();
        match serde_json::to_value(value) {
            Ok(json) => {
                lock(&self.shared.store).insert(key, json);
                Ok(())
            }
            Err(source) => Err(ContextError::NotSerializable { key, source }),
        }
    }

    /// Reads the value under `key` as a `T`.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<T, ContextError> {
        let json = lock(&self.shared.store).get(key).cloned();
        match json {
            Some(json) => decode(key, json),
            None => Err(ContextError::MissingKey { key: key.to_owned() }),
        }
    }

    /// Reads the value under `key`, or `default` when there is none.
    ///
    /// A value of the wrong type is still an error: a default must not hide a bug.
    pub fn get_or<T: DeserializeOwned>(&self, key: &str, default: T) -> Result<T, ContextError> {
        match self.get(key) {
            Err(ContextError::MissingKey { .. }) => Ok(default),
            other => other,
        }
    }

    /// Reads, edits and writes back the value under `key` in one atomic step,
    /// starting from `default` when there is none; returns the new value.
    pub fn update_value<T>(&self, key: &str, default: T, edit: impl FnOnce(&mut T)) -> Result<T, ContextError>
    where
        T: Serialize + DeserializeOwned + Clone,
    {
        let mut store = lock(&self.shared.store);
        let mut value = match store.get(key) {
            Some(json) => decode(key, json.clone())?,
            None => default,
        };
        edit(&mut value);
        let json = serde_json::to_value(value.clone())
            .map_err(|source| ContextError::NotSerializable { key: key.to_owned(), source })?;
        store.insert(key.to_owned(), json);
        Ok(value)
    }

    /// The whole store, for a snapshot.
    pub(crate) fn store_snapshot(&self) -> Map<String, Value> {
        lock(&self.shared.store).clone()
    }

    /// Replaces the whole store, from a snapshot.
    pub(crate) fn restore_store(&self, store: Map<String, Value>) {
        *lock(&self.shared.store) = store;
    }

    /// Removes the value under `key`, returning it as JSON.
    pub fn remove(&self, key: &str) -> Option<Value> {
        lock(&self.shared.store).remove(key)
    }

    /// Whether a run is using this context right now.
    pub fn in_use(&self) -> bool {
        self.shared.in_use.load(Ordering::Acquire)
    }

    /// Which try of this step invocation is running: 1, then 2, 3… on retries.
    /// Outside a step, 0.
    pub fn attempt(&self) -> u32 {
        self.scope.as_ref().map_or(0, |s| s.attempt)
    }

    /// The attempt running and, on a retry, the previous attempt's error:
    /// what a step needs to try differently the second time.
    pub fn retry_info(&self) -> RetryInfo {
        RetryInfo {
            attempt: self.attempt(),
            previous_error: self.scope.as_ref().and_then(|s| s.link.previous_error(s.invocation)),
        }
    }

    /// Which of its step's `num_workers` slots runs this invocation.
    pub fn worker(&self) -> usize {
        self.scope.as_ref().map_or(0, |s| s.worker)
    }
}

impl<S, E: WorkflowEvent> Context<S, E> {
    /// Sends `event` to every step that consumes its type, as if the step had
    /// returned it. The step must list the type in `#[step(sends = [..])]`,
    /// so that the graph checks see the edge: a type that is not an event of
    /// this workflow does not compile, an undeclared one does not compile
    /// where the macro sees its type in the call, and otherwise fails the
    /// step (with [`SendError::Undeclared`]) when it returns. After the run
    /// has ended, the event is dropped (and traced): nothing to handle.
    pub fn send_event<T>(&self, event: T)
    where
        E: Wrap<T>,
    {
        self.deliver(E::wrap(event), E::sent_by, |scope, event| {
            scope.link.send(scope.invocation, ErasedEvent::new(event), None)
        });
    }

    /// Sends `event` to one step only, named by the generated step enum
    /// (`MyFlowStep::Rerank`), so that an unknown step does not compile. A
    /// step that does not take the event fails the sending step when it
    /// returns ([`SendError::NotAccepted`]).
    pub fn send_event_to<T>(&self, step: E::Step, event: T)
    where
        E: Wrap<T>,
    {
        let target = step.into();
        self.deliver(E::wrap(event), E::sent_by, |scope, event| {
            if !event.accepted_by(target) {
                let target = E::INFO.steps[target].name;
                return Err(SendError::NotAccepted { target, event: event.name() });
            }
            scope.link.send(scope.invocation, ErasedEvent::new(event), Some(target))
        });
    }

    /// Writes `event` to the caller's event stream (see `Handler::events`).
    /// The step must list the type in `#[step(streams = [..])]`, as for
    /// [`Context::send_event`]. After the run has ended, or once the caller
    /// has dropped the stream, the event is dropped (and traced).
    pub fn write_event_to_stream<T>(&self, event: T)
    where
        E: Wrap<T>,
    {
        self.deliver(E::wrap(event), E::streamed_by, |scope, event| {
            scope.link.stream(scope.invocation, ErasedEvent::new(event))
        });
    }

    /// Checks `event` against the step's declarations and hands it to
    /// `send`; what cannot be carried out is dropped after the run's end, or
    /// fails the step when it returns.
    fn deliver(
        &self,
        event: E,
        declared: fn(&E, StepId) -> bool,
        send: impl FnOnce(&Scope, E) -> Result<(), SendError>,
    ) {
        let error = match self.checked(event, declared) {
            Ok((scope, event)) => match send(scope, event) {
                Ok(()) => return,
                Err(error) => error,
            },
            Err(error) => error,
        };
        match (&error, &self.scope) {
            (SendError::RunEnded { .. }, _) | (_, None) => {
                tracing::debug!(event = error.event(), "dropped: the run has ended");
            }
            (_, Some(scope)) => {
                tracing::warn!(%error, "the step breaks its declarations and will fail");
                scope.link.poison(scope.invocation, error);
            }
        }
    }

    /// Waits in place for an event of type `T`, typically an answer the
    /// caller sends with `Handler::send_event`. The step is suspended, not
    /// re-run: code before the wait runs once. Refine the wait with
    /// [`WaitFor::matching`], [`WaitFor::request`] and [`WaitFor::timeout`],
    /// then `.await` it.
    pub fn wait_for_event<T>(&self) -> WaitFor<'_, S, E, T>
    where
        E: Variant<T>,
    {
        WaitFor::new(self)
    }

    /// Buffers `event` until the events this step has seen fill the tuple `T`
    /// (say `(Weather, News, News)`): returns `None` until then, then the
    /// tuple, in the order of its types, and forgets the events it used.
    /// An event whose type is not in `T` is ignored.
    pub fn collect_events<T: Collect<E>, V>(&self, event: V) -> Option<T>
    where
        E: Wrap<V>,
    {
        let scope = self.scope.as_ref()?;
        let event = E::wrap(event);
        if !T::wants(&event) {
            return None;
        }
        scope.link.collect_into(scope.step, |buffer| {
            // SAFETY: this run's buffers hold only its workflow's events,
            // erased by this layer: `E`s.
            let mut typed: Vec<E> = unsafe { typed_all(std::mem::take(buffer)) };
            typed.push(event);
            let taken = T::take(&mut typed);
            *buffer = erase_all(typed);
            taken
        })
    }

    /// The scope, if `declared(event, step)` says this step declared the event.
    pub(crate) fn checked(
        &self,
        event: E,
        declared: fn(&E, StepId) -> bool,
    ) -> Result<(&Scope, E), SendError> {
        let Some(scope) = &self.scope else {
            return Err(SendError::RunEnded { event: event.name() });
        };
        if !declared(&event, scope.step) {
            return Err(SendError::Undeclared { step: E::INFO.steps[scope.step].name, event: event.name() });
        }
        Ok((scope, event))
    }

    pub(crate) fn scope(&self) -> Option<&Scope> {
        self.scope.as_ref()
    }
}

/// A run's exclusive claim on a [`Context`].
pub(crate) struct Lease<S> {
    context: Context<S>,
}

impl<S> Lease<S> {
    pub(crate) fn context(&self) -> &Context<S> {
        &self.context
    }
}

impl<S> Drop for Lease<S> {
    fn drop(&mut self) {
        self.context.shared.in_use.store(false, Ordering::Release);
    }
}

fn decode<T: DeserializeOwned>(key: &str, json: Value) -> Result<T, ContextError> {
    serde_json::from_value(json).map_err(|source| ContextError::WrongType {
        key: key.to_owned(),
        expected: std::any::type_name::<T>(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_store_round_trips_and_reports_missing_and_wrong_types() {
        let ctx = Context::<()>::new();
        ctx.set("n", 3u32).unwrap();
        assert_eq!(ctx.get::<u32>("n").unwrap(), 3);

        let missing = ctx.get::<u32>("absent").unwrap_err();
        assert!(matches!(&missing, ContextError::MissingKey { key } if key == "absent"));
        assert!(missing.to_string().contains("ctx.set(\"absent\""), "{missing}");

        let wrong = ctx.get::<String>("n").unwrap_err();
        assert!(matches!(wrong, ContextError::WrongType { ref key, .. } if key == "n"));
        assert_eq!(ctx.get_or("absent", 7u32).unwrap(), 7);
        assert!(ctx.get_or("n", String::new()).is_err());
    }

    #[test]
    fn unserializable_values_are_rejected_when_set() {
        let ctx = Context::<()>::new();
        let mut bad = std::collections::HashMap::new();
        bad.insert((1, 2), 3); // tuple keys are not JSON object keys
        let err = ctx.set("bad", bad).unwrap_err();
        assert!(matches!(err, ContextError::NotSerializable { ref key, .. } if key == "bad"));
    }

    #[test]
    fn update_value_starts_from_default_and_persists() {
        let ctx = Context::<()>::new();
        assert_eq!(ctx.update_value("hits", 0u32, |n| *n += 1).unwrap(), 1);
        assert_eq!(ctx.update_value("hits", 0u32, |n| *n += 1).unwrap(), 2);
        assert_eq!(ctx.get::<u32>("hits").unwrap(), 2);
    }

    #[test]
    fn a_context_can_be_leased_once_at_a_time() {
        let ctx = Context::<u8>::new();
        let lease = ctx.lease("W").unwrap();
        assert!(ctx.in_use());
        assert!(matches!(ctx.lease("W"), Err(WorkflowError::ContextBusy { workflow: "W" })));
        drop(lease);
        assert!(!ctx.in_use());
        assert!(ctx.lease("W").is_ok());
    }

    #[test]
    fn typed_state_edits_are_visible_through_clones() {
        let ctx = Context::<Vec<u8>>::new();
        let other = ctx.clone();
        ctx.update(|v| v.push(1));
        assert_eq!(other.state(), vec![1]);
        assert_eq!(other.read(|v| v.len()), 1);
    }
}
