//! At most N runs of one workflow instance at once
//! (`#[workflow(num_concurrent_runs = N)]`, LlamaIndex's
//! `num_concurrent_runs`).
//!
//! Each instance (the `Arc<W>` runs are started on) has a fair semaphore of
//! N permits: a run takes one before its first step, waiting its turn in
//! the order runs were started, and gives it back when it ends or while it
//! only waits for outside input (see the driver's `slot.rs`). The semaphores
//! are found by the instance's address; an entry dies with the last run
//! that holds its semaphore, so an address reused by a later instance gets
//! a fresh one.

use std::sync::{Arc, Mutex, Weak};

use tokio::sync::Semaphore;

use crate::sync::lock;

static LIMITS: Mutex<Vec<(usize, Weak<Semaphore>)>> = Mutex::new(Vec::new());

/// The semaphore of the instance at `instance`, allowing `runs` at once.
pub(crate) fn for_instance(instance: usize, runs: usize) -> Arc<Semaphore> {
    let mut limits = lock(&LIMITS);
    if let Some(live) = limits.iter().find(|(at, _)| *at == instance).and_then(|(_, weak)| weak.upgrade()) {
        return live;
    }
    limits.retain(|(_, weak)| weak.strong_count() > 0);
    let semaphore = Arc::new(Semaphore::new(runs));
    limits.push((instance, Arc::downgrade(&semaphore)));
    semaphore
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_instance_shares_a_semaphore_and_a_reused_address_gets_a_fresh_one() {
        let first = for_instance(0x5107, 2);
        let again = for_instance(0x5107, 2);
        assert!(Arc::ptr_eq(&first, &again));
        let permit = first.clone().try_acquire_owned().unwrap();
        drop((first, again));
        drop(permit);
        let fresh = for_instance(0x5107, 3);
        assert_eq!(fresh.available_permits(), 3, "the old one died with its last holder");
    }
}
