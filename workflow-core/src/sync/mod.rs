//! Small synchronization pieces the rest of the crate stands on: a lock
//! that survives a panicking holder, and a queue that allocates nothing
//! while it is empty.

mod mailbox;

use std::sync::{Mutex, MutexGuard, PoisonError};

pub(crate) use mailbox::Mailbox;

/// Locks, recovering from poison: a step that panicked mid-edit fails its own
/// run, and the next run must still be able to use what it held.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
