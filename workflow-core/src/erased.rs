//! A workflow's event with its type erased, so that the runtime (core,
//! driver, link, snapshots) is compiled once for every workflow instead of
//! once per workflow: it moves, clones, routes and writes events without
//! knowing their enum.
//!
//! An [`ErasedEvent`] is the generated enum's value, held inline when it is
//! small (most are: a few words) and boxed otherwise, beside the index of
//! its type and a table of the functions that know the enum ([`EventOps`],
//! one per workflow, written once by the compiler). Routing reads the index
//! and the workflow's route table: data, no call. Only the typed layer of
//! a workflow (its handler, its contexts, the code that calls its steps)
//! turns an erased event back into the enum, and only for events of its own
//! runs, which its own layer made: that is the invariant the `unsafe`
//! below rests on. No `Any`, no `TypeId`, no string keys.

use std::fmt;
use std::marker::PhantomData;
use std::mem::{align_of, size_of, ManuallyDrop, MaybeUninit};

use serde_json::Value;

use crate::contract::{WorkflowEvent, WorkflowInfo};
use crate::event::StepFailed;

/// Room for an event held inline: four words hold an enum whose largest
/// variant is a `String` or a `Vec` beside its tag.
type Slot = MaybeUninit<[usize; 4]>;

/// Whether a value of `E` is held in the slot itself rather than boxed.
const fn inline<E>() -> bool {
    size_of::<E>() <= size_of::<Slot>() && align_of::<E>() <= align_of::<Slot>()
}

/// One event of some workflow, its type erased (see the module docs).
pub(crate) struct ErasedEvent {
    ops: &'static EventOps,
    index: usize,
    slot: Slot,
}

// SAFETY: the slot holds an `E: WorkflowEvent`, which is `Send`; the type
// only hands out `&E` to code that knows `E` (so no `Sync` is claimed).
unsafe impl Send for ErasedEvent {}

/// The functions that know one workflow's event enum, for its erased events.
pub(crate) struct EventOps {
    /// The workflow's graph: event names and the route table.
    pub(crate) info: &'static WorkflowInfo,
    /// The enum's type name, to check in debug builds that an event is
    /// turned back into the type it was made from.
    type_name: fn() -> &'static str,
    clone: fn(&ErasedEvent) -> ErasedEvent,
    /// Drops the value in the slot; the event is not used again.
    drop: unsafe fn(&mut ErasedEvent),
    to_json: fn(&ErasedEvent) -> Result<Value, serde_json::Error>,
    from_json: fn(&str, Value) -> Option<Result<ErasedEvent, serde_json::Error>>,
    step_failed: fn(StepFailed) -> Option<ErasedEvent>,
}

/// The [`EventOps`] of `E`, as a constant, so that a reference to it is `'static`.
struct OpsOf<E>(PhantomData<E>);

impl<E: WorkflowEvent> OpsOf<E> {
    const OPS: EventOps = EventOps {
        info: E::INFO,
        type_name: std::any::type_name::<E>,
        clone: |event| {
            // SAFETY: these operations are only ever stored in events of `E`.
            ErasedEvent::new(unsafe { event.as_typed::<E>() }.clone())
        },
        drop: |event| {
            // SAFETY: as above; the caller does not use the slot again.
            unsafe { event.drop_typed::<E>() }
        },
        to_json: |event| unsafe { event.as_typed::<E>() }.to_json(),
        from_json: |name, data| E::from_json(name, data).map(|read| read.map(ErasedEvent::new)),
        step_failed: |failure| E::step_failed(failure).map(ErasedEvent::new),
    };
}

/// The operations on `E`'s erased events.
pub(crate) const fn ops<E: WorkflowEvent>() -> &'static EventOps {
    &OpsOf::<E>::OPS
}

impl EventOps {
    /// The event of type `name` read from `data`; `None` if the workflow
    /// has no such event type.
    pub(crate) fn read(&self, name: &str, data: Value) -> Option<Result<ErasedEvent, serde_json::Error>> {
        (self.from_json)(name, data)
    }

    /// The runtime's failure report as an event, if some step consumes it.
    pub(crate) fn step_failed(&self, failure: StepFailed) -> Option<ErasedEvent> {
        (self.step_failed)(failure)
    }
}

impl ErasedEvent {
    /// Erases `event`.
    pub(crate) fn new<E: WorkflowEvent>(event: E) -> Self {
        let index = event.index();
        let mut slot = Slot::uninit();
        // SAFETY: the slot has room and alignment for an `E` if `inline`,
        // and for a pointer (four words, word-aligned) otherwise.
        unsafe {
            if inline::<E>() {
                slot.as_mut_ptr().cast::<E>().write(event);
            } else {
                slot.as_mut_ptr().cast::<*mut E>().write(Box::into_raw(Box::new(event)));
            }
        }
        Self { ops: ops::<E>(), index, slot }
    }

    /// The position of its type in [`WorkflowInfo::events`].
    #[inline]
    pub(crate) fn index(&self) -> usize {
        self.index
    }

    /// The name of its type.
    pub(crate) fn name(&self) -> &'static str {
        self.ops.info.events[self.index]
    }

    /// The event as JSON.
    pub(crate) fn to_json(&self) -> Result<Value, serde_json::Error> {
        (self.ops.to_json)(self)
    }

    /// The event as `{"event": "Name", "data": ..}`, as JSON runs and a
    /// parent's stream show it (`data` is null if it cannot be written).
    pub(crate) fn tagged_json(&self) -> Value {
        let data = self.to_json().unwrap_or(Value::Null);
        serde_json::json!({ "event": self.name(), "data": data })
    }

    /// The event as the enum it was made from.
    ///
    /// # Safety
    /// It was made from an `E` (by [`ErasedEvent::new`] or by operations of `E`).
    pub(crate) unsafe fn as_typed<E>(&self) -> &E {
        debug_assert_eq!((self.ops.type_name)(), std::any::type_name::<E>());
        if inline::<E>() {
            &*self.slot.as_ptr().cast::<E>()
        } else {
            &**self.slot.as_ptr().cast::<*mut E>()
        }
    }

    /// The event as the enum it was made from, by value.
    ///
    /// # Safety
    /// As for [`as_typed`](Self::as_typed).
    pub(crate) unsafe fn into_typed<E>(self) -> E {
        debug_assert_eq!((self.ops.type_name)(), std::any::type_name::<E>());
        let this = ManuallyDrop::new(self);
        if inline::<E>() {
            this.slot.as_ptr().cast::<E>().read()
        } else {
            *Box::from_raw(this.slot.as_ptr().cast::<*mut E>().read())
        }
    }

    /// Drops the `E` in the slot.
    ///
    /// # Safety
    /// As for [`as_typed`](Self::as_typed), and the slot is not used again.
    unsafe fn drop_typed<E>(&mut self) {
        if inline::<E>() {
            self.slot.as_mut_ptr().cast::<E>().drop_in_place();
        } else {
            drop(Box::from_raw(self.slot.as_mut_ptr().cast::<*mut E>().read()));
        }
    }
}

/// Erases every event of `events`. A loop rather than an iterator chain:
/// this is instantiated once per workflow, and a chain of adapters costs a
/// dozen functions each time (see `scripts/compile-cost`).
pub(crate) fn erase_all<E: WorkflowEvent>(events: Vec<E>) -> Vec<ErasedEvent> {
    let mut erased = Vec::with_capacity(events.len());
    for event in events {
        erased.push(ErasedEvent::new(event));
    }
    erased
}

/// Turns every event of `events` back into `E`.
///
/// # Safety
/// As for [`ErasedEvent::as_typed`], for each event.
pub(crate) unsafe fn typed_all<E>(events: Vec<ErasedEvent>) -> Vec<E> {
    let mut typed = Vec::with_capacity(events.len());
    for event in events {
        typed.push(event.into_typed::<E>());
    }
    typed
}

impl Drop for ErasedEvent {
    fn drop(&mut self) {
        // SAFETY: `ops` is the table of the type in the slot, which is
        // dropped here, once.
        unsafe { (self.ops.drop)(self) }
    }
}

impl Clone for ErasedEvent {
    fn clone(&self) -> Self {
        (self.ops.clone)(self)
    }
}

/// The event's type and its data as JSON, as in `Job(1)`: written from
/// the JSON rather than the enum's `Debug`, so that no workflow pays for a
/// `Debug` it never prints.
impl fmt::Debug for ErasedEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to_json() {
            Ok(data) => write!(f, "{}({data})", self.name()),
            Err(_) => write!(f, "{}(..)", self.name()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::prelude::*;

    /// Counts its drops in the counter it points to.
    #[derive(Clone, Debug, Default)]
    struct Tracked(Option<&'static AtomicUsize>);

    impl Drop for Tracked {
        fn drop(&mut self) {
            if let Some(drops) = self.0 {
                drops.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    #[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
    #[allow(dead_code)] // `tracked` counts drops
    struct Small {
        n: u8,
        #[serde(skip)]
        #[schemars(skip)]
        tracked: Tracked,
    }

    /// Too big for the slot: boxed.
    #[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
    #[allow(dead_code)]
    struct Big {
        words: [u64; 8],
        #[serde(skip)]
        #[schemars(skip)]
        tracked: Tracked,
    }

    /// Events small enough for the slot: held inline.
    struct Tiny;

    #[workflow]
    impl Tiny {
        #[step]
        async fn small(&self, ev: StartEvent<u8>) -> Small {
            Small { n: ev.input, tracked: Tracked::default() }
        }

        #[step]
        async fn stop(&self, ev: Small) -> StopEvent<u8> {
            StopEvent::new(ev.n)
        }
    }

    /// One event too big for the slot: the enum is boxed.
    struct Flow;

    #[workflow]
    impl Flow {
        #[step]
        async fn small(&self, ev: StartEvent<u8>) -> Small {
            Small { n: ev.input, tracked: Tracked::default() }
        }

        #[step]
        async fn big(&self, ev: Small) -> Big {
            Big { words: [u64::from(ev.n); 8], tracked: Tracked::default() }
        }

        #[step]
        async fn stop(&self, ev: Big) -> StopEvent<u64> {
            StopEvent::new(ev.words.iter().sum())
        }
    }

    #[test]
    fn small_enums_are_held_inline_and_big_ones_boxed() {
        assert!(inline::<TinyEvent>(), "{} bytes", size_of::<TinyEvent>());
        assert!(!inline::<FlowEvent>(), "{} bytes", size_of::<FlowEvent>());
        assert!(inline::<u8>() && inline::<String>() && inline::<(String, u64)>());
        assert!(!inline::<[u64; 8]>());
    }

    /// Makes an event holding a tracker on `drops`, erases it, clones it,
    /// reads both back, and checks every value was dropped exactly once.
    fn round_trip<E: WorkflowEvent>(make: fn(&'static AtomicUsize) -> E, drops: &'static AtomicUsize) {
        let erased = ErasedEvent::new(make(drops));
        let copy = erased.clone();
        // SAFETY: both are `E`s.
        let (seen, original) = unsafe { (copy.as_typed::<E>(), erased.as_typed::<E>()) };
        assert_eq!(format!("{seen:?}"), format!("{original:?}"));
        assert_eq!(copy.index(), erased.index());
        assert_eq!(copy.name(), erased.name());
        drop(copy);
        assert_eq!(drops.load(Ordering::Relaxed), 1, "the dropped copy, once");
        // SAFETY: it is an `E`.
        let back = unsafe { erased.into_typed::<E>() };
        assert_eq!(drops.load(Ordering::Relaxed), 1, "taking it out drops nothing");
        drop(back);
        assert_eq!(drops.load(Ordering::Relaxed), 2, "the original, once");
    }

    #[test]
    fn an_inline_event_is_cloned_read_and_dropped_once_each() {
        static DROPS: AtomicUsize = AtomicUsize::new(0);
        round_trip(|d| TinyEvent::Small(Small { n: 3, tracked: Tracked(Some(d)) }), &DROPS);
    }

    #[test]
    fn a_boxed_event_is_cloned_read_and_dropped_once_each() {
        static DROPS: AtomicUsize = AtomicUsize::new(0);
        round_trip(|d| FlowEvent::Big(Big { words: [7; 8], tracked: Tracked(Some(d)) }), &DROPS);
    }

    #[test]
    fn an_erased_event_writes_and_reads_json_through_its_workflow() {
        let event = ErasedEvent::new(FlowEvent::Big(Big { words: [1; 8], tracked: Tracked::default() }));
        let json = event.to_json().unwrap();
        let read = ops::<FlowEvent>().read(event.name(), json.clone()).unwrap().unwrap();
        assert_eq!(read.to_json().unwrap(), json);
        assert!(ops::<FlowEvent>().read("NoSuchEvent", json).is_none());
    }

    #[tokio::test]
    async fn workflows_run_on_boxed_and_inline_events() {
        assert_eq!(Flow.run(2).await.unwrap(), 16);
        assert_eq!(Tiny.run(2).await.unwrap(), 2);
    }
}
