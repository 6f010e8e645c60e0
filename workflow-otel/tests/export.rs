//! Spans of real runs, exported over OTLP/HTTP to a collector on loopback
//! and decoded there: the tree (run → steps → child run → its steps) and
//! the attributes a trace backend shows.

use std::time::Duration;

use workflow_core::prelude::*;
use workflow_otel::collector::{Collector, ReceivedSpan};
use workflow_otel::{OtelError, Telemetry};

#[event]
struct Part(u32);

#[event]
struct Done(u32);

#[event]
struct Checked(u32);

#[event]
struct Final(u32);

/// The child: two steps.
#[derive(Clone, Default)]
struct Lookup;

#[event]
struct Looked(u32);

#[workflow]
impl Lookup {
    #[step]
    async fn find(&self, ev: StartEvent<u32>) -> Looked {
        Looked(ev.input * 10)
    }

    #[step]
    async fn answer(&self, ev: Looked) -> StopEvent<u32> {
        StopEvent::new(ev.0 + 1)
    }
}

/// A fan-out of three parts, a step that fails once and is retried, and a
/// child run.
#[derive(Default)]
struct Traced {
    failed_once: std::sync::atomic::AtomicBool,
}

#[workflow]
impl Traced {
    #[step]
    async fn split(&self, ev: StartEvent<u32>) -> Vec<Part> {
        (0..ev.input).map(Part).collect()
    }

    #[step(num_workers = 3)]
    async fn work(&self, ev: Part) -> Done {
        Done(ev.0)
    }

    #[step]
    async fn gather(&self, ev: Collected<Done>) -> Checked {
        Checked(ev.into_iter().map(|d| d.0).sum())
    }

    #[step(retry = Backoff::fixed(3, Duration::from_millis(1)))]
    async fn check(&self, ev: Checked) -> Result<Final, BoxError> {
        if !self.failed_once.swap(true, std::sync::atomic::Ordering::SeqCst) {
            return Err("the checker was busy".into());
        }
        Ok(Final(ev.0 + 100))
    }

    #[step(children = [Lookup])]
    async fn delegate(&self, ctx: &Context<()>, ev: Final) -> Result<StopEvent<u32>, BoxError> {
        Ok(StopEvent::new(ctx.run_child(Lookup, ev.0).await?))
    }
}

fn one<'a>(spans: &'a [ReceivedSpan], what: &str, keep: impl Fn(&ReceivedSpan) -> bool) -> &'a ReceivedSpan {
    let found: Vec<&ReceivedSpan> = spans.iter().filter(|s| keep(s)).collect();
    assert_eq!(found.len(), 1, "one {what}: {spans:#?}");
    found[0]
}

fn step<'a>(spans: &'a [ReceivedSpan], name: &str) -> Vec<&'a ReceivedSpan> {
    spans.iter().filter(|s| s.name == "workflow_step" && s.attribute("step") == Some(name)).collect()
}

#[test]
fn a_run_with_a_retry_a_fan_out_and_a_child_arrives_as_one_tree() {
    let collector = Collector::start().unwrap();
    let telemetry = Telemetry::new(&collector.endpoint(), "workflow-otel-test").unwrap();
    assert_eq!(telemetry.endpoint(), format!("{}/v1/traces", collector.endpoint()));
    let subscriber = {
        use tracing_subscriber::layer::SubscriberExt;
        tracing_subscriber::registry().with(telemetry.layer())
    };
    let output = tracing::subscriber::with_default(subscriber, || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(Traced::default().run(3))
    });
    assert_eq!(output.unwrap(), 1031, "(0 + 1 + 2 + 100) * 10 + 1");
    telemetry.flush().unwrap();
    let spans = collector.spans();

    let run =
        one(&spans, "parent run", |s| s.name == "workflow_run" && s.attribute("workflow") == Some("Traced"));
    assert!(run.parent_span_id.is_empty(), "the run is the root");
    assert_eq!(run.attribute("outcome"), Some("stopped"));
    assert_eq!(run.service, "workflow-otel-test");
    let run_id = run.attribute("run_id").expect("the run id");

    for name in ["split", "work", "gather", "check", "delegate"] {
        for span in step(&spans, name) {
            assert_eq!(span.parent_span_id, run.span_id, "step {name} is under its run");
            assert_eq!(span.trace_id, run.trace_id);
            assert_eq!(
                (span.attribute("workflow"), span.attribute("run_id")),
                (Some("Traced"), Some(run_id))
            );
        }
    }
    assert_eq!(step(&spans, "work").len(), 3, "one span per fanned-out part");

    let check = step(&spans, "check");
    let attempts: Vec<(Option<&str>, Option<&str>, &str)> =
        check.iter().map(|s| (s.attribute("attempt"), s.attribute("outcome"), s.status.as_str())).collect();
    assert_eq!(attempts, [(Some("1"), Some("error"), "ERROR"), (Some("2"), Some("ok"), "")]);
    assert_eq!(check[0].attribute("error"), Some("the checker was busy"));

    let delegate = step(&spans, "delegate");
    let child =
        one(&spans, "child run", |s| s.name == "workflow_run" && s.attribute("workflow") == Some("Lookup"));
    assert_eq!(child.parent_span_id, delegate[0].span_id, "the child run is under the step that ran it");
    assert_eq!(child.trace_id, run.trace_id, "one trace");
    assert_ne!(child.attribute("run_id"), Some(run_id));
    for name in ["find", "answer"] {
        assert_eq!(step(&spans, name)[0].parent_span_id, child.span_id, "{name} is under the child run");
    }
}

#[test]
fn a_failed_run_is_an_error_span_with_its_kind() {
    let collector = Collector::start().unwrap();
    let telemetry = Telemetry::new(&collector.endpoint(), "workflow-otel-test").unwrap();
    let subscriber = {
        use tracing_subscriber::layer::SubscriberExt;
        tracing_subscriber::registry().with(telemetry.layer())
    };
    let error = tracing::subscriber::with_default(subscriber, || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(Failing.run(()))
    });
    assert!(error.is_err());
    telemetry.flush().unwrap();
    let spans = collector.spans();
    let run = one(&spans, "run", |s| s.name == "workflow_run");
    assert_eq!((run.attribute("outcome"), run.status.as_str()), (Some("StepPanicked"), "ERROR"));
    assert!(run.attribute("error").unwrap().contains("no disk"), "{run:?}");
    let step = one(&spans, "step", |s| s.name == "workflow_step");
    assert_eq!(step.attribute("outcome"), Some("panicked"));
}

struct Failing;

#[workflow]
impl Failing {
    #[step]
    async fn only(&self, ev: StartEvent<()>) -> StopEvent<()> {
        let _ = ev;
        panic!("no disk")
    }
}

#[test]
fn the_endpoint_comes_from_the_standard_variables() {
    // The only test that touches the environment.
    std::env::remove_var(workflow_otel::TRACES_ENDPOINT_VAR);
    std::env::remove_var(workflow_otel::ENDPOINT_VAR);
    assert!(Telemetry::from_env("s").unwrap().is_none(), "unset: no export");
    std::env::set_var(workflow_otel::ENDPOINT_VAR, "http://127.0.0.1:4318/");
    let telemetry = Telemetry::from_env("s").unwrap().unwrap();
    assert_eq!(telemetry.endpoint(), "http://127.0.0.1:4318/v1/traces");
    std::env::set_var(workflow_otel::TRACES_ENDPOINT_VAR, "http://collector:9999/traces");
    assert_eq!(Telemetry::from_env("s").unwrap().unwrap().endpoint(), "http://collector:9999/traces");
    std::env::remove_var(workflow_otel::TRACES_ENDPOINT_VAR);
    std::env::set_var(workflow_otel::ENDPOINT_VAR, "localhost:4318");
    let error = Telemetry::from_env("s").unwrap_err();
    assert!(matches!(error, OtelError::BadEndpoint { .. }), "{error}");
    assert!(error.to_string().contains("http://localhost:4318"), "the message shows a good one: {error}");
    std::env::remove_var(workflow_otel::ENDPOINT_VAR);
}
