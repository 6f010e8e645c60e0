//! The cached resources of each workflow instance.
//!
//! An instance is the `Arc<W>` its runs are started on; the macro cannot add
//! a field to the user's type, so the caches live in a table found by the
//! instance's address. Each entry keeps a `Weak` of its instance: an entry
//! whose instance is gone is dropped (with its resources) the next time the
//! table is used, so an address reused by a later instance gets a fresh
//! cache, never the old one's resources.

use std::any::{Any, TypeId};
use std::future::Future;
use std::sync::{Arc, Mutex, Weak};

use tokio::sync::OnceCell;

use super::{Resource, ResourceError};
use crate::sync::lock;

type Shared = Arc<dyn Any + Send + Sync>;

/// Which resource a cache slot holds.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Key {
    /// A `#[resource]` method of the workflow, by name (one cache per instance,
    /// so per workflow type: names are unique).
    Own(&'static str),
    /// A [`ResourceFactory`](super::ResourceFactory) type.
    Shared(TypeId),
}

/// One instance's cached resources. Each slot is built at most once at a
/// time: steps that need it together wait for the one build. A failed build
/// leaves the slot empty, for the next use to try again.
#[derive(Default)]
pub struct Cache {
    slots: Mutex<Vec<(Key, Arc<OnceCell<Shared>>)>>,
}

impl Cache {
    fn slot(&self, key: Key) -> Arc<OnceCell<Shared>> {
        let mut slots = lock(&self.slots);
        if let Some((_, cell)) = slots.iter().find(|(k, _)| *k == key) {
            return Arc::clone(cell);
        }
        let cell = Arc::new(OnceCell::new());
        slots.push((key, Arc::clone(&cell)));
        cell
    }

    async fn get_or_build<T, F>(&self, key: Key, build: F) -> Result<Resource<T>, ResourceError>
    where
        T: Send + Sync + 'static,
        F: Future<Output = Result<T, ResourceError>>,
    {
        let slot = self.slot(key);
        let value =
            slot.get_or_try_init(|| async { build.await.map(|value| Arc::new(value) as Shared) }).await?;
        let typed = Arc::clone(value)
            .downcast::<T>()
            .unwrap_or_else(|_| unreachable!("a cache slot is filled by one factory, so it holds one type"));
        Ok(Resource::from_arc(typed))
    }

    /// The `#[resource]` method `name`'s value, built by `build` if the slot
    /// is empty.
    #[doc(hidden)]
    pub async fn own<T, F>(&self, name: &'static str, build: F) -> Result<Resource<T>, ResourceError>
    where
        T: Send + Sync + 'static,
        F: Future<Output = Result<T, ResourceError>>,
    {
        self.get_or_build(Key::Own(name), build).await
    }

    /// The value of factory type `id`, built by `build` if the slot is empty.
    pub(super) async fn shared<T, F>(&self, id: TypeId, build: F) -> Result<Resource<T>, ResourceError>
    where
        T: Send + Sync + 'static,
        F: Future<Output = Result<T, ResourceError>>,
    {
        self.get_or_build(Key::Shared(id), build).await
    }
}

type Entry = (usize, Weak<dyn Any + Send + Sync>, Arc<Cache>);

static CACHES: Mutex<Vec<Entry>> = Mutex::new(Vec::new());

/// The cache of `instance`, made on first use.
pub fn cache_of<W: Send + Sync + 'static>(instance: &Arc<W>) -> Arc<Cache> {
    let at = Arc::as_ptr(instance).addr();
    let mut caches = lock(&CACHES);
    // Resources of dropped instances are dropped after the lock is let go:
    // a resource's `Drop` may well use resources of its own.
    let mut dead = Vec::new();
    if caches.iter().any(|(_, owner, _)| owner.strong_count() == 0) {
        let (live, gone): (Vec<Entry>, Vec<Entry>) =
            caches.drain(..).partition(|(_, owner, _)| owner.strong_count() > 0);
        *caches = live;
        dead = gone;
    }
    let cache = match caches.iter().find(|(addr, _, _)| *addr == at) {
        Some((_, _, cache)) => Arc::clone(cache),
        None => {
            let cache = Arc::new(Cache::default());
            let owner = Arc::downgrade(instance) as Weak<dyn Any + Send + Sync>;
            caches.push((at, owner, Arc::clone(&cache)));
            cache
        }
    };
    drop(caches);
    drop(dead);
    cache
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_instance_one_cache_and_a_dropped_instance_takes_its_resources_along() {
        let first = Arc::new(1u8);
        let cache = cache_of(&first);
        assert!(Arc::ptr_eq(&cache, &cache_of(&first)), "the same instance finds its cache");
        let other = Arc::new(2u8);
        assert!(!Arc::ptr_eq(&cache, &cache_of(&other)), "another instance has its own");

        let built = cache.own("n", async { Ok::<_, ResourceError>(String::from("x")) }).await.unwrap();
        let again = cache.own("n", async { Ok::<_, ResourceError>(String::from("y")) }).await.unwrap();
        assert_eq!(*again, "x", "a filled slot is not built again");
        drop((built, again));

        let weak = Arc::downgrade(&cache);
        drop(cache);
        drop(first);
        let _ = cache_of(&other); // any later use sweeps the dead entries
        assert!(weak.upgrade().is_none(), "the dropped instance's cache is gone");
    }

    #[tokio::test]
    async fn a_failed_build_leaves_the_slot_empty() {
        let cache = Cache::default();
        let failed = cache.own("n", async { Err::<u8, _>(super::super::failed("n", "s", "down")) }).await;
        assert!(matches!(failed, Err(ResourceError::Build { resource: "n", .. })));
        let built = cache.own("n", async { Ok::<_, ResourceError>(7u8) }).await.unwrap();
        assert_eq!(*built, 7);
    }
}
