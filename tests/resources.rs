//! Resources: built on first use by a factory (a `#[resource]` method or a
//! `ResourceFactory` type), cached per workflow instance or built for each
//! step call, built from one another, and failing as the step's error.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use workflow_core::prelude::*;
use workflow_core::resource::{ResourceError, ResourceFactory};

/// Bounds every run: a hang fails the test instead of stalling the suite.
async fn bounded<T>(run: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), run).await.expect("the run ends")
}

// ---------------------------------------------------------- cached and fresh

#[event]
struct Asked(String);

/// A log kept by the instance: which resources were built, in order.
#[derive(Default)]
struct Chat {
    built: Mutex<Vec<String>>,
}

impl Chat {
    fn log(&self, what: &str) {
        self.built.lock().unwrap().push(what.to_string());
    }

    fn built(&self) -> Vec<String> {
        self.built.lock().unwrap().clone()
    }
}

/// A memory shared by every step and run of one instance.
struct Memory {
    lines: Mutex<Vec<String>>,
}

/// A client built fresh for each step call, from the memory.
struct Client {
    memory: Resource<Memory>,
    id: usize,
}

static CLIENTS: AtomicUsize = AtomicUsize::new(0);

#[workflow]
impl Chat {
    #[resource]
    async fn memory(&self) -> Memory {
        self.log("memory");
        tokio::task::yield_now().await;
        Memory { lines: Mutex::new(Vec::new()) }
    }

    #[resource(cache = false)]
    fn client(&self, memory: Resource<Memory>) -> Client {
        self.log("client");
        Client { memory, id: CLIENTS.fetch_add(1, Ordering::Relaxed) }
    }

    #[step]
    async fn ask(&self, ev: StartEvent<String>, memory: Resource<Memory>, client: Resource<Client>) -> Asked {
        memory.lines.lock().unwrap().push(format!("user: {}", ev.input));
        Asked(format!("{} (client {})", ev.input, client.id))
    }

    #[step]
    async fn answer(&self, client: Resource<Client>, ev: Asked) -> StopEvent<Vec<String>> {
        let mut lines = client.memory.lines.lock().unwrap();
        lines.push(format!("bot: {}", ev.0));
        StopEvent::new(lines.clone())
    }
}

#[tokio::test]
async fn a_cached_resource_is_built_once_per_instance_and_an_uncached_one_per_call() {
    let chat = Arc::new(Chat::default());
    let first = bounded(Arc::clone(&chat).run("hi".into())).await.unwrap();
    assert_eq!(first.len(), 2, "both steps wrote to one memory: {first:?}");
    let second = bounded(Arc::clone(&chat).run("again".into())).await.unwrap();
    assert_eq!(second.len(), 4, "the second run found the first one's memory: {second:?}");
    assert_eq!(
        chat.built(),
        ["memory", "client", "client", "client", "client"],
        "the memory once (before the first client that needs it), a client per step call"
    );

    let other = Arc::new(Chat::default());
    let fresh = bounded(Arc::clone(&other).run("hello".into())).await.unwrap();
    assert_eq!(fresh.len(), 2, "another instance has a memory of its own: {fresh:?}");
    assert_eq!(other.built()[0], "memory");
}

#[tokio::test]
async fn a_step_can_be_called_directly_with_resources_of_ones_own() {
    let chat = Chat::default();
    let memory = Resource::new(Memory { lines: Mutex::new(vec!["earlier".into()]) });
    let client = Resource::new(Client { memory: memory.clone(), id: 7 });
    let asked = chat.ask(StartEvent::new("x".into()), memory.clone(), client).await;
    assert_eq!(asked.0, "x (client 7)");
    assert_eq!(memory.lines.lock().unwrap().len(), 2);
}

// --------------------------------------------- built together, dropped along

#[event]
struct Part(u32);

#[event]
struct Worked(u32);

/// Counts what its resources' factories and destructors did.
#[derive(Default)]
struct Fan {
    builds: AtomicUsize,
    drops: Arc<AtomicUsize>,
}

struct Slow {
    drops: Arc<AtomicUsize>,
}

impl Drop for Slow {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::Relaxed);
    }
}

#[workflow]
impl Fan {
    #[resource]
    async fn slow(&self) -> Slow {
        self.builds.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(20)).await;
        Slow { drops: Arc::clone(&self.drops) }
    }

    #[step]
    async fn split(&self, ev: StartEvent<u32>) -> Vec<Part> {
        (0..ev.input).map(Part).collect()
    }

    #[step(num_workers = 8)]
    async fn work(&self, ev: Part, _slow: Resource<Slow>) -> Worked {
        Worked(ev.0)
    }

    #[step]
    async fn join(&self, ev: Collected<Worked>) -> StopEvent<usize> {
        StopEvent::new(ev.len())
    }
}

#[tokio::test]
async fn steps_that_need_a_resource_together_wait_for_one_build() {
    let fan = Arc::new(Fan::default());
    assert_eq!(bounded(Arc::clone(&fan).run(8)).await.unwrap(), 8);
    assert_eq!(fan.builds.load(Ordering::Relaxed), 1, "eight parallel steps, one build");
}

#[tokio::test]
async fn a_dropped_instance_drops_its_resources() {
    let fan = Arc::new(Fan::default());
    let drops = Arc::clone(&fan.drops);
    bounded(Arc::clone(&fan).run(2)).await.unwrap();
    assert_eq!(drops.load(Ordering::Relaxed), 0, "cached while the instance lives");
    drop(fan);
    // The table notices a dead instance the next time it is used.
    bounded(Arc::new(Fan::default()).run(1)).await.unwrap();
    assert_eq!(drops.load(Ordering::Relaxed), 1, "dropped with its instance");
}

// ----------------------------------------------------------------- failures

/// Its connection fails as many times as `failures` says, then works.
struct Flaky {
    failures: AtomicUsize,
    calls: AtomicUsize,
}

#[derive(Debug, thiserror::Error)]
#[error("connection refused")]
struct Refused;

#[workflow]
impl Flaky {
    #[resource]
    async fn connection(&self) -> Result<String, Refused> {
        if self.failures.load(Ordering::Relaxed) > 0 {
            self.failures.fetch_sub(1, Ordering::Relaxed);
            return Err(Refused);
        }
        Ok("connected".into())
    }

    #[resource]
    fn session(&self, connection: Resource<String>) -> String {
        format!("session on {}", *connection)
    }

    #[step]
    async fn query(&self, ev: StartEvent<()>, session: Resource<String>) -> StopEvent<String> {
        let _ = ev;
        self.calls.fetch_add(1, Ordering::Relaxed);
        StopEvent::new(session.to_string())
    }
}

#[tokio::test]
async fn a_failing_factory_fails_the_run_naming_the_resource_and_the_step_and_is_tried_again_next_time() {
    let flaky = Arc::new(Flaky { failures: AtomicUsize::new(1), calls: AtomicUsize::new(0) });
    let error = bounded(Arc::clone(&flaky).run(())).await.unwrap_err();
    assert_eq!(error.step(), Some("query"));
    let WorkflowError::StepFailed { source, .. } = &error else { panic!("a step failure: {error:?}") };
    let resource = source.downcast_ref::<ResourceError>().expect("a resource error");
    assert!(
        matches!(resource, ResourceError::Build { resource: "connection", step: "query", .. }),
        "the resource that failed (needed through `session`) and the step: {resource:?}"
    );
    assert!(
        error
            .to_string()
            .contains("resource `connection` needed by step `query` could not be built: connection refused"),
        "{error}"
    );
    assert_eq!(flaky.calls.load(Ordering::Relaxed), 0, "the step did not run");

    let answer = bounded(Arc::clone(&flaky).run(())).await.unwrap();
    assert_eq!(answer, "session on connected", "a failure is not cached: the next run builds it");
}

#[workflow]
impl Retried {
    #[resource]
    async fn connection(&self) -> Result<String, Refused> {
        let left = self.0.load(Ordering::Relaxed);
        if left > 0 {
            self.0.store(left - 1, Ordering::Relaxed);
            return Err(Refused);
        }
        Ok("up".into())
    }

    #[step(retry = Backoff::fixed(3, Duration::from_millis(1)))]
    async fn query(&self, ev: StartEvent<()>, connection: Resource<String>) -> StopEvent<String> {
        let _ = ev;
        StopEvent::new(connection.to_string())
    }
}

struct Retried(AtomicUsize);

#[tokio::test]
async fn a_factory_failure_is_retried_by_the_steps_policy() {
    let answer = bounded(Retried(AtomicUsize::new(2)).run(())).await.unwrap();
    assert_eq!(answer, "up", "two failures, then the third attempt builds it");
}

// ----------------------------------------------- factories declared elsewhere

static SETTINGS_BUILT: AtomicUsize = AtomicUsize::new(0);

/// Settings, shared by every workflow that names the factory.
struct Settings;

impl ResourceFactory for Settings {
    type Output = String;
    type Needs = ();

    async fn build((): ()) -> Result<String, BoxError> {
        SETTINGS_BUILT.fetch_add(1, Ordering::Relaxed);
        Ok("https://index.invalid".into())
    }
}

/// A search client built from the settings, fresh for each step call.
struct Search;

impl ResourceFactory for Search {
    type Output = (String, usize);
    type Needs = (Settings,);
    const CACHE: bool = false;

    async fn build((url,): (Resource<String>,)) -> Result<(String, usize), BoxError> {
        static MADE: AtomicUsize = AtomicUsize::new(0);
        Ok((format!("search at {}", *url), MADE.fetch_add(1, Ordering::Relaxed)))
    }
}

struct Researcher;

#[workflow(resources = [settings = Settings, search = Search])]
impl Researcher {
    /// An own factory built from a shared one.
    #[resource]
    fn banner(&self, settings: Resource<String>) -> String {
        format!("using {}", *settings)
    }

    #[step]
    async fn look(
        &self,
        ev: StartEvent<String>,
        search: Resource<(String, usize)>,
        banner: Resource<String>,
    ) -> Asked {
        Asked(format!("{} / {} / {}", banner.as_str(), search.0, ev.input))
    }

    #[step]
    async fn done(&self, ev: Asked, search: Resource<(String, usize)>) -> StopEvent<(String, usize)> {
        StopEvent::new((ev.0, search.1))
    }
}

#[tokio::test]
async fn factories_declared_elsewhere_are_built_from_their_needs() {
    let researcher = Arc::new(Researcher);
    let (text, _) = bounded(Arc::clone(&researcher).run("rust".into())).await.unwrap();
    assert_eq!(text, "using https://index.invalid / search at https://index.invalid / rust");
    bounded(Arc::clone(&researcher).run("again".into())).await.unwrap();
    assert_eq!(SETTINGS_BUILT.load(Ordering::Relaxed), 1, "cached: built once for the instance's two runs");
}

struct Ping;
struct Pong;

impl ResourceFactory for Ping {
    type Output = ();
    type Needs = (Pong,);

    async fn build(_: (Resource<()>,)) -> Result<(), BoxError> {
        Ok(())
    }
}

impl ResourceFactory for Pong {
    type Output = ();
    type Needs = (Settings, Ping);

    async fn build(_: (Resource<String>, Resource<()>)) -> Result<(), BoxError> {
        Ok(())
    }
}

#[derive(Default)]
struct Loopy {
    steps: AtomicUsize,
}

#[workflow(resources = [ping = Ping])]
impl Loopy {
    #[step]
    async fn only(&self, ev: StartEvent<()>) -> Asked {
        let _ = ev;
        self.steps.fetch_add(1, Ordering::Relaxed);
        Asked(String::new())
    }

    #[step]
    async fn uses(&self, ev: Asked, ping: Resource<()>) -> StopEvent<()> {
        let _ = (ev, ping);
        StopEvent::new(())
    }
}

#[tokio::test]
async fn a_cycle_between_factories_declared_elsewhere_refuses_to_start_and_names_it() {
    let loopy = Arc::new(Loopy::default());
    let error = bounded(Arc::clone(&loopy).run(())).await.unwrap_err();
    match &error {
        WorkflowError::Resources { workflow: "Loopy", source: ResourceError::Cycle { cycle } } => {
            assert_eq!(cycle, "Ping -> Pong -> Ping")
        }
        other => panic!("expected the cycle, got {other:?}"),
    }
    assert_eq!(error.kind(), "Resources");
    assert_eq!(loopy.steps.load(Ordering::Relaxed), 0, "no step ran");
    let started = bounded(Arc::clone(&loopy).start(())).await.unwrap_err();
    assert_eq!(started.kind(), "Resources", "a handler reports it too");
}

// ------------------------------------------------------- generic workflows

trait Greeter: Send + Sync + 'static {
    fn greet(&self) -> String;
}

struct Polite;

impl Greeter for Polite {
    fn greet(&self) -> String {
        "good day".into()
    }
}

struct Greeting<G> {
    greeter: G,
}

#[workflow]
impl<G: Greeter> Greeting<G> {
    #[resource]
    fn line(&self) -> String {
        self.greeter.greet()
    }

    #[step]
    async fn only(&self, ev: StartEvent<String>, line: Resource<String>) -> StopEvent<String> {
        StopEvent::new(format!("{}, {}", *line, ev.input))
    }
}

#[tokio::test]
async fn a_generic_workflow_builds_its_resources_from_its_type_parameter() {
    let answer = bounded(Greeting { greeter: Polite }.run("Ada".into())).await.unwrap();
    assert_eq!(answer, "good day, Ada");
}
