//! `Context<S>`: state shared by the steps of a run, and by sequential runs.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::WorkflowError;

/// Shared state of a workflow: a typed value `S` plus a JSON key-value store.
///
/// A step receives it by declaring a `ctx: &Context<S>` parameter. Every
/// edit happens under a lock, so an edit is atomic with respect to the other
/// steps. Cloning a `Context` gives another handle on the same state.
///
/// One context can serve several runs one after another (its state carries
/// over); giving it to a second run while a first is still going fails with
/// [`WorkflowError::ContextBusy`].
pub struct Context<S> {
    shared: Arc<Shared<S>>,
}

struct Shared<S> {
    state: Mutex<S>,
    store: Mutex<Map<String, Value>>,
    in_use: AtomicBool,
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

impl<S> Clone for Context<S> {
    fn clone(&self) -> Self {
        Self { shared: Arc::clone(&self.shared) }
    }
}

impl<S> std::fmt::Debug for Context<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("state", &std::any::type_name::<S>())
            .field("in_use", &self.shared.in_use.load(Ordering::Relaxed))
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
        }
    }

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

    /// Removes the value under `key`, returning it as JSON.
    pub fn remove(&self, key: &str) -> Option<Value> {
        lock(&self.shared.store).remove(key)
    }

    /// Whether a run is using this context right now.
    pub fn in_use(&self) -> bool {
        self.shared.in_use.load(Ordering::Acquire)
    }

    /// Claims the context for one run; the claim ends when the lease drops.
    pub(crate) fn lease(&self, workflow: &'static str) -> Result<Lease<S>, WorkflowError> {
        self.shared
            .in_use
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .map_err(|_| WorkflowError::ContextBusy { workflow })?;
        Ok(Lease { context: self.clone() })
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

/// Locks, recovering from poison: a step that panicked mid-edit fails its own
/// run, and the next run must still be able to use the context.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
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
