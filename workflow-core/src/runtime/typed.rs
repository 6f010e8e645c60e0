//! The thin layer compiled once per workflow: its [`Table`], the object
//! through which the driver calls its steps, and the conversions of its
//! events and output at the edges of a run. Everything below it (core,
//! driver, link, journal) is compiled once for all workflows.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use serde_json::{Map, Value};

use super::core::RunEvent;
use super::driver::{Run, StepFuture, Steps};
use super::durable::StateWriter;
use super::limit;
use super::options::RunOptions;
use super::table::Table;
use crate::context::{Lease, Scope};
use crate::contract::{Emitted, StepId, StepInput, StepOutcome, WorkflowEvent};
use crate::erased::{self, erase_all, typed_all, ErasedEvent};
use crate::error::WorkflowError;
use crate::retry::RetryPolicy;
use crate::snapshot::SnapshotError;
use crate::trace::Trace;
use crate::workflow::Workflow;

struct TableOf<W>(std::marker::PhantomData<W>);

impl<W: Workflow> TableOf<W> {
    const TABLE: Table = Table {
        events: erased::ops::<W::Event>(),
        retry_policy: W::retry_policy as fn(StepId) -> Option<Box<dyn RetryPolicy>>,
        output_json: |stop| serde_json::to_value(output::<W>(stop.clone())),
    };
}

/// The runtime's table of workflow `W`.
pub(crate) fn table<W: Workflow>() -> &'static Table {
    &TableOf::<W>::TABLE
}

/// The output in a run's stop event.
pub(crate) fn output<W: Workflow>(stop: ErasedEvent) -> W::Output {
    // SAFETY: a run of `W` ends with an event its own layer made: a `W::Event`.
    W::output(unsafe { stop.into_typed::<W::Event>() }).expect("a run ends with its stop event")
}

/// A workflow instance on its run's context: what the driver calls steps on.
struct TypedSteps<W: Workflow> {
    flow: Arc<W>,
    lease: Lease<W::State>,
    /// Writes the state for the journal, if the run is durable.
    journal_state: Option<StateWriter<W::State>>,
}

impl<W: Workflow> Steps for TypedSteps<W> {
    fn call(
        self: Arc<Self>,
        scope: Scope,
        input: StepInput<ErasedEvent>,
        spare: Option<StepFuture>,
    ) -> StepFuture {
        let step = scope.step;
        // SAFETY: the driver hands a run's steps only the run's own events.
        let input = match input {
            StepInput::One(event) => StepInput::One(unsafe { event.into_typed::<W::Event>() }),
            StepInput::Collected(events) => StepInput::Collected(unsafe { typed_all::<W::Event>(events) }),
        };
        let context = self.lease.context().scoped(scope);
        let call = Arc::clone(&self.flow).invoke(step, context, input);
        let erasing = Erasing { call, _steps: self };
        match spare {
            // SAFETY: the driver gives back only futures this object made,
            // and they are all of this one type (`W::invoke` returns one).
            Some(spare) => unsafe { refill(spare, erasing) },
            None => Box::pin(erasing),
        }
    }

    fn store(&self) -> Map<String, Value> {
        self.lease.context().store_snapshot()
    }

    fn journal_state(&self) -> Result<Value, SnapshotError> {
        match self.journal_state {
            Some(write) => self.lease.context().read(write),
            None => Ok(Value::Null),
        }
    }
}

/// A step's call with what it emits erased, holding the workflow and the
/// run's context lease while it runs. A plain future rather than an
/// `async` block around the call: one state machine per hop, not two.
struct Erasing<F, W> {
    call: F,
    _steps: Arc<W>,
}

impl<F, E, W> Future for Erasing<F, W>
where
    F: Future<Output = StepOutcome<E>>,
    E: WorkflowEvent,
{
    type Output = StepOutcome<ErasedEvent>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        // SAFETY: `call` is pinned with `self`: it is never moved out, and
        // `Erasing` has no `Drop` and no `Unpin` of its own.
        let call = unsafe { self.map_unchecked_mut(|this| &mut this.call) };
        call.poll(cx).map(|outcome| {
            outcome.map(|emitted| match emitted {
                Emitted::Nothing => Emitted::Nothing,
                Emitted::One(event) => Emitted::One(ErasedEvent::new(event)),
                Emitted::Many(events) => Emitted::Many(erase_all(events)),
            })
        })
    }
}

/// Writes `value` into the box of `spare`, a finished future, instead of
/// allocating: what makes a light hop allocation-free.
///
/// # Safety
/// `spare` holds a `T`.
unsafe fn refill<T>(spare: StepFuture, value: T) -> StepFuture
where
    T: Future<Output = StepOutcome<ErasedEvent>> + Send + 'static,
{
    debug_assert_eq!(std::mem::size_of_val(&*spare), std::mem::size_of::<T>());
    let slot = Box::into_raw(Pin::into_inner_unchecked(spare)).cast::<T>();
    // The finished future is dropped in place before its memory is reused,
    // as `Pin` requires; the box keeps `T`'s layout.
    slot.drop_in_place();
    slot.write(value);
    Pin::new_unchecked(Box::from_raw(slot))
}

/// Everything a run of `flow` needs, on `options`' context (claimed now),
/// with a stream and a trace if a handler will read them.
pub(crate) fn prepare<W: Workflow>(
    flow: Arc<W>,
    options: RunOptions<W::State>,
    run_id: u64,
    stream: Option<Arc<crate::sync::Mailbox<RunEvent<ErasedEvent>>>>,
    trace: Option<Trace>,
) -> Result<Run, WorkflowError> {
    W::check_resources().map_err(|source| WorkflowError::Resources { workflow: W::INFO.name, source })?;
    let RunOptions { setup, context, state_writer } = options;
    let lease = context.unwrap_or_default().lease(W::INFO.name)?;
    let limit = W::INFO.num_concurrent_runs.map(|runs| limit::for_instance(Arc::as_ptr(&flow).addr(), runs));
    let steps = Arc::new(TypedSteps { flow, lease, journal_state: state_writer });
    let durable = setup.journal.as_ref().map(|journal| journal.store_and_key());
    let mut run = Run::new(table::<W>(), steps, setup, run_id, stream, trace);
    run.limit = limit;
    if let Some((store, key)) = durable.filter(|_| W::INFO.steps.iter().any(|s| !s.children.is_empty())) {
        run.link.children(|c| c.set_durable(store, key));
    }
    Ok(run)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Waker;

    use super::*;

    static DROPS: AtomicUsize = AtomicUsize::new(0);

    struct Tracked(u32);

    impl Drop for Tracked {
        fn drop(&mut self) {
            DROPS.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// One future type, as `W::invoke` returns one: it holds its tracker
    /// (an `async fn` owns its arguments) and fails with its number.
    async fn step(tracked: Tracked) -> StepOutcome<ErasedEvent> {
        Err(tracked.0.to_string().into())
    }

    fn finish(future: &mut StepFuture) -> String {
        match future.as_mut().poll(&mut TaskContext::from_waker(Waker::noop())) {
            Poll::Ready(Err(error)) => error.to_string(),
            _ => panic!("the step finishes at once with its error"),
        }
    }

    #[test]
    fn a_finished_future_box_is_refilled_and_each_value_dropped_once() {
        let mut first: StepFuture = Box::pin(step(Tracked(1)));
        assert_eq!(finish(&mut first), "1");
        let dropped = DROPS.load(Ordering::Relaxed);
        // SAFETY: `first` holds the type `step` returns.
        let mut second = unsafe { refill(first, step(Tracked(2))) };
        assert_eq!(finish(&mut second), "2", "the refilled box runs the new call");
        drop(second);
        // Each tracker is dropped once, when its future finished.
        assert_eq!(DROPS.load(Ordering::Relaxed) - dropped, 1);
        // A future that never ran still holds its tracker: refilling drops it.
        let unpolled: StepFuture = Box::pin(step(Tracked(3)));
        let before = DROPS.load(Ordering::Relaxed);
        // SAFETY: as above.
        let refilled = unsafe { refill(unpolled, step(Tracked(4))) };
        assert_eq!(DROPS.load(Ordering::Relaxed) - before, 1, "the unpolled one is dropped in place");
        drop(refilled);
        assert_eq!(DROPS.load(Ordering::Relaxed) - before, 2);
    }
}
