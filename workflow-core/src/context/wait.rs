//! `ctx.wait_for_event::<T>()`: suspend a step until the caller answers.

use std::future::{Future, IntoFuture};
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;

use super::Context;
use crate::contract::{Variant, WaiterId, WorkflowEvent, Wrap};
use crate::erased::ErasedEvent;
use crate::error::SendError;
use crate::link::RunLink;

/// Why a wait for an event ended without one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WaitError {
    /// No matching event arrived in time.
    #[error(
        "no `{event}` arrived within {after:?}; the caller answers with `handler.send_event(..)`, \
         or raise the wait's timeout"
    )]
    TimedOut {
        /// The type waited for.
        event: &'static str,
        /// The wait's timeout.
        after: Duration,
    },
    /// The run ended while the step waited.
    #[error("the run ended while waiting for `{event}`")]
    RunEnded {
        /// The type waited for.
        event: &'static str,
    },
    /// The step does not declare that it waits for this type.
    #[error(
        "step `{step}` waits for `{event}` but does not declare it; add `waits = [{event}]` to its \
         `#[step(..)]`, so that the graph checks count the answer"
    )]
    Undeclared {
        /// The waiting step.
        step: &'static str,
        /// The type waited for.
        event: &'static str,
    },
    /// The request could not be written.
    #[error(transparent)]
    Request(#[from] SendError),
}

type Matcher<T> = Box<dyn Fn(&T) -> bool + Send + Sync>;

/// A wait being set up; `.await` it. See [`Context::wait_for_event`].
#[must_use = "a wait does nothing until it is awaited"]
pub struct WaitFor<'a, S, E, T> {
    context: &'a Context<S, E>,
    /// `T` read out of the event enum, taken where `E: Variant<T>` was
    /// checked, so that a type that is not an event is one error, not one
    /// more at every later call.
    variant: Reader<E, T>,
    matcher: Option<Matcher<T>>,
    request: Option<E>,
    timeout: Option<Duration>,
    _event: PhantomData<fn() -> T>,
}

/// How a wait reads its `T` out of the event enum, and where `T` is listed.
struct Reader<E, T> {
    index: usize,
    peek: fn(&E) -> Option<&T>,
    take: fn(E) -> Result<T, E>,
}

impl<'a, S, E: WorkflowEvent + Variant<T>, T> WaitFor<'a, S, E, T> {
    pub(super) fn new(context: &'a Context<S, E>) -> Self {
        let variant = Reader { index: E::INDEX, peek: E::as_variant, take: E::into_variant };
        Self { context, variant, matcher: None, request: None, timeout: None, _event: PhantomData }
    }
}

impl<'a, S, E: WorkflowEvent, T> WaitFor<'a, S, E, T> {
    /// Accepts only events for which `matches` is true, so that two waiters
    /// for one type can be told apart by a field (a ticket id, say).
    pub fn matching(mut self, matches: impl Fn(&T) -> bool + Send + Sync + 'static) -> Self {
        self.matcher = Some(Box::new(matches));
        self
    }

    /// Writes `request` to the caller's stream when the wait begins, to say
    /// what is awaited. The step must list its type in `streams = [..]`.
    pub fn request<R>(mut self, request: R) -> Self
    where
        E: Wrap<R>,
    {
        self.request = Some(E::wrap(request));
        self
    }

    /// Gives up with [`WaitError::TimedOut`] after `timeout`.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
}

impl<'a, S, E, T> IntoFuture for WaitFor<'a, S, E, T>
where
    S: Send,
    E: WorkflowEvent,
    T: Send + 'static,
{
    type Output = Result<T, WaitError>;
    type IntoFuture = Pin<Box<dyn Future<Output = Result<T, WaitError>> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let event = std::any::type_name::<T>();
            let Some(scope) = self.context.scope() else { return Err(WaitError::RunEnded { event }) };
            let Reader { index, peek, take } = self.variant;
            let declared = E::INFO.steps.get(scope.step).is_none_or(|s| s.waits.contains(&index));
            if !declared {
                let step = E::INFO.steps[scope.step].name;
                return Err(WaitError::Undeclared { step, event: E::INFO.events[index] });
            }
            let request = match self.request {
                Some(request) => Some(ErasedEvent::new(self.context.checked(request, E::streamed_by)?.1)),
                None => None,
            };
            let matcher = self.matcher;
            let matches = Box::new(move |candidate: &ErasedEvent| {
                // SAFETY: the run's events are its workflow's: `E`s.
                candidate.index() == index
                    && peek(unsafe { candidate.as_typed::<E>() })
                        .is_some_and(|t| matcher.as_ref().is_none_or(|m| m(t)))
            });
            let (reply, answer) = oneshot::channel();
            let id = scope
                .link
                .wait(scope.invocation, matches, request, reply)
                .map_err(|_| WaitError::RunEnded { event })?;
            let registration = Registration { link: Arc::clone(&scope.link), id: Some(id) };
            let answered = match self.timeout {
                None => answer.await,
                Some(after) => match tokio::time::timeout(after, answer).await {
                    Ok(answered) => answered,
                    Err(_) => return Err(WaitError::TimedOut { event, after }),
                },
            };
            registration.answered();
            let answer = answered.map_err(|_| WaitError::RunEnded { event })?;
            // SAFETY: as above.
            let answer = unsafe { answer.into_typed::<E>() };
            Ok(take(answer).unwrap_or_else(|_| unreachable!("the matcher accepted only `{event}`")))
        })
    }
}

/// Withdraws a wait that ends without an answer (timeout, or the step's
/// future dropped), so that a later event is not handed to nobody.
struct Registration {
    link: Arc<RunLink>,
    id: Option<WaiterId>,
}

impl Registration {
    fn answered(mut self) {
        self.id = None;
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        if let Some(id) = self.id.take() {
            self.link.unwait(id);
        }
    }
}
