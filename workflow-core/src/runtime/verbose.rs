//! What a run reports through `tracing`, beyond its spans: every
//! invocation, under [`TARGET`] (which `RunOptions::verbose` prints to
//! standard error through a subscriber that wraps the one in place, so
//! that whatever the caller traces still goes where it went), and the
//! record of its core's inputs, under [`RECORD`].

use std::fmt::{self, Write as _};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Dispatch, Event, Metadata, Subscriber};

use super::core::StepFailure;
use crate::contract::Emitted;
use crate::erased::ErasedEvent;

/// The target of the driver's reports on invocations.
pub(crate) const TARGET: &str = "workflow_core::run";

/// The target of the record of a run's core: each input, at what time, and
/// the commands it gave, as JSON (level trace).
pub(crate) const RECORD: &str = "workflow_core::core";

/// The message of [`invoking`]'s event, which [`Verbose`] prints.
const INVOKING: &str = "invoking step";

/// The message of [`returned`]'s event, which [`Verbose`] prints.
const RETURNED: &str = "step returned";

/// Reports that an invocation of `step` starts.
pub(crate) fn invoking(workflow: &'static str, step: &'static str, worker: usize, attempt: u32) {
    tracing::debug!(target: TARGET, workflow, step, worker, attempt, "{INVOKING}");
}

/// Reports what an invocation returned.
pub(crate) fn returned(workflow: &'static str, result: &Result<Emitted<ErasedEvent>, StepFailure>) {
    tracing::debug!(target: TARGET, workflow, outcome = %Outcome(result), "{RETURNED}");
}

/// A recorded input or command, or why it could not be written (an event
/// that does not serialize): the record goes on either way.
pub(crate) fn recordable(
    json: Result<serde_json::Value, crate::snapshot::SnapshotError>,
) -> serde_json::Value {
    json.unwrap_or_else(|e| serde_json::json!({ "unrecordable": e.to_string() }))
}

/// Prints the driver's reports; hands everything to `inner` as well.
pub(crate) struct Verbose {
    inner: Dispatch,
}

impl Verbose {
    /// A dispatcher that prints the reports and otherwise acts as the
    /// current default one.
    pub(crate) fn around_default() -> Dispatch {
        let inner = tracing::dispatcher::get_default(Dispatch::clone);
        Dispatch::new(Verbose { inner })
    }
}

/// The fields of one report.
#[derive(Default)]
struct Report {
    message: String,
    workflow: String,
    step: String,
    worker: u64,
    attempt: u64,
    outcome: String,
}

impl Visit for Report {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "workflow" => self.workflow = value.to_owned(),
            "step" => self.step = value.to_owned(),
            _ => {}
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        match field.name() {
            "worker" => self.worker = value,
            "attempt" => self.attempt = value,
            _ => {}
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let into = match field.name() {
            "message" => &mut self.message,
            "outcome" => &mut self.outcome,
            _ => return,
        };
        let _ = write!(into, "{value:?}");
    }
}

impl Report {
    fn line(&self) -> Option<String> {
        match self.message.as_str() {
            INVOKING => Some(format!(
                "[{}] running step {} (worker {}, attempt {})",
                self.workflow, self.step, self.worker, self.attempt
            )),
            RETURNED => Some(format!("  -> {}", self.outcome)),
            _ => None,
        }
    }
}

impl Subscriber for Verbose {
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        if metadata.target() == TARGET {
            Interest::always()
        } else {
            self.inner.register_callsite(metadata)
        }
    }

    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.target() == TARGET || self.inner.enabled(metadata)
    }

    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        None
    }

    fn event(&self, event: &Event<'_>) {
        if event.metadata().target() == TARGET {
            let mut report = Report::default();
            event.record(&mut report);
            if let Some(line) = report.line() {
                eprintln!("{line}");
            }
            if !self.inner.enabled(event.metadata()) {
                return;
            }
        }
        self.inner.event(event);
    }

    fn new_span(&self, span: &Attributes<'_>) -> Id {
        self.inner.new_span(span)
    }

    fn record(&self, span: &Id, values: &Record<'_>) {
        self.inner.record(span, values);
    }

    fn record_follows_from(&self, span: &Id, follows: &Id) {
        self.inner.record_follows_from(span, follows);
    }

    fn enter(&self, span: &Id) {
        self.inner.enter(span);
    }

    fn exit(&self, span: &Id) {
        self.inner.exit(span);
    }

    fn clone_span(&self, id: &Id) -> Id {
        self.inner.clone_span(id)
    }

    fn try_close(&self, id: Id) -> bool {
        self.inner.try_close(id)
    }

    fn current_span(&self) -> tracing_core::span::Current {
        self.inner.current_span()
    }
}

/// What an invocation returned, as a verbose run prints it.
struct Outcome<'a>(&'a Result<Emitted<ErasedEvent>, StepFailure>);

impl fmt::Display for Outcome<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Ok(Emitted::Nothing) => f.write_str("emitted nothing"),
            Ok(Emitted::One(event)) => write!(f, "emitted {}", event.name()),
            Ok(Emitted::Many(events)) => {
                let names: Vec<_> = events.iter().map(ErasedEvent::name).collect();
                write!(f, "emitted {}", names.join(", "))
            }
            Err(failure) => write!(f, "failed: {failure}"),
        }
    }
}
