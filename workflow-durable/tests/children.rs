//! Child runs of durable parents: they journal to the parent's store, and
//! a parent killed while a child is mid-way resumes with the child taken
//! up where it was (its finished steps do not run again).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use workflow_core::child::ChildError;
use workflow_core::durable::{Journaled, RunStore};
use workflow_core::prelude::*;
use workflow_core::snapshot::Snapshot;
use workflow_core::BoxError;
use workflow_durable::{Outcome, SqliteStore};

/// Appends `line` to the log at `path`, flushed to disk before it returns:
/// what ran survives the kill.
fn log(path: &Path, line: &str) {
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path).unwrap();
    writeln!(file, "{line}").unwrap();
    file.sync_all().unwrap();
}

fn count(path: &Path, line: &str) -> usize {
    std::fs::read_to_string(path).unwrap_or_default().lines().filter(|l| *l == line).count()
}

#[event]
struct Leg(u8);

/// Three slow legs, each logged as it starts and as it ends.
#[derive(Clone)]
struct Legs {
    log: PathBuf,
    pause: Duration,
}

#[workflow]
impl Legs {
    #[step]
    async fn begin(&self, ev: StartEvent<u8>) -> Leg {
        Leg(ev.input)
    }

    #[step]
    async fn leg(&self, ev: Leg) -> Emit<(Leg, StopEvent<u8>)> {
        log(&self.log, &format!("leg {} started", ev.0));
        tokio::time::sleep(self.pause).await;
        log(&self.log, &format!("leg {} done", ev.0));
        if ev.0 == 3 {
            Emit::new(StopEvent::new(ev.0))
        } else {
            Emit::new(Leg(ev.0 + 1))
        }
    }
}

fn main_flow(log: PathBuf, pause: Duration) -> Relay {
    Relay { legs: Legs { log, pause } }
}

/// The parent: runs the three legs as a child, logging each try.
struct Relay {
    legs: Legs,
}

#[workflow]
impl Relay {
    #[step(children = [Legs])]
    async fn delegate(&self, ctx: &Context<()>, ev: StartEvent<()>) -> Result<StopEvent<String>, BoxError> {
        let _ = ev;
        log(&self.legs.log, "delegate started");
        let last = ctx.run_child(self.legs.clone(), 1).await?;
        Ok(StopEvent::new(format!("the child ended at leg {last}")))
    }
}

#[tokio::test]
async fn a_durable_parents_child_journals_to_the_same_store_and_is_not_recovered_alone() {
    let dir = tempdir();
    let store = Arc::new(SqliteStore::open(dir.join("runs.db")).unwrap());
    let shared: Arc<dyn RunStore> = store.clone();
    let flow = main_flow(dir.join("log"), Duration::from_millis(1));
    let answer = flow.run_with((), RunOptions::new().durable(Arc::clone(&shared), "r1")).await.unwrap();
    assert_eq!(answer, "the child ended at leg 3");
    let keys = store.keys().unwrap();
    assert_eq!(keys.len(), 2, "{keys:?}");
    let child = keys.iter().find(|k| k.starts_with("r1#child:")).expect("the child's journal");
    assert_eq!(store.outcome(child).unwrap(), Some(Outcome::Stopped(3.into())));
    assert!(matches!(store.load(child).unwrap(), Some(Journaled::Stopped(_))));
}

/// A store whose journals cannot be read back.
struct Unreadable(SqliteStore);

impl RunStore for Unreadable {
    fn save(&self, key: &str, workflow: &str, snapshot: &Snapshot) -> Result<(), BoxError> {
        self.0.save(key, workflow, snapshot)
    }
    fn finish(&self, key: &str, outcome: Result<&Value, &str>) -> Result<(), BoxError> {
        self.0.finish(key, outcome)
    }
    fn unfinished(&self, workflow: &str) -> Result<Vec<(String, Snapshot)>, BoxError> {
        self.0.unfinished(workflow)
    }
    fn load(&self, _: &str) -> Result<Option<Journaled>, BoxError> {
        Err("the disk is unreadable".into())
    }
}

#[tokio::test]
async fn a_store_that_cannot_say_where_a_child_was_fails_the_step() {
    let dir = tempdir();
    let store = Arc::new(Unreadable(SqliteStore::in_memory().unwrap()));
    let flow = main_flow(dir.join("log"), Duration::from_millis(1));
    let error = flow.run_with((), RunOptions::new().durable(store, "r1")).await.unwrap_err();
    let WorkflowError::StepFailed { source, .. } = &error else { panic!("{error:?}") };
    match source.downcast_ref::<ChildError>() {
        Some(ChildError::Journal { workflow: "Legs", reason }) => assert!(reason.contains("unreadable")),
        other => panic!("{other:?}"),
    }
}

fn tempdir() -> PathBuf {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("workflow-children-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The process the kill test starts (and kills): with `WORKFLOW_CHILD_DIR`
/// set, recovers what the last life left or starts the run, and prints the
/// result.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child_life() {
    let Some(dir) = std::env::var_os("WORKFLOW_CHILD_DIR").map(PathBuf::from) else { return };
    let store: Arc<dyn RunStore> = Arc::new(SqliteStore::open(dir.join("runs.db")).unwrap());
    let flow = Arc::new(main_flow(dir.join("log"), Duration::from_millis(400)));
    let mut recovered = Arc::clone(&flow).recover(Arc::clone(&store)).unwrap();
    let handler = match recovered.pop() {
        Some((_, handler)) => handler,
        None => flow.start_with((), RunOptions::new().durable(store, "relay")),
    };
    println!("RESULT {}", handler.await.unwrap());
}

#[test]
fn a_parent_killed_while_its_child_is_mid_way_resumes_the_child_where_it_was() {
    if std::env::var_os("WORKFLOW_CHILD_DIR").is_some() {
        return;
    }
    let dir = tempdir();
    let log = dir.join("log");
    let life = |dir: &Path| {
        Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "child_life", "--nocapture", "--test-threads=1"])
            .env("WORKFLOW_CHILD_DIR", dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let mut first = life(&dir);
    let deadline = Instant::now() + Duration::from_secs(60);
    while count(&log, "leg 2 started") == 0 {
        assert!(Instant::now() < deadline, "leg 2 never started");
        std::thread::sleep(Duration::from_millis(5));
    }
    // Leg 1 is done and journaled (leg 2 starts after its completion is
    // handled); leg 2 sleeps for 400 ms: kill it mid-way.
    std::thread::sleep(Duration::from_millis(150));
    first.kill().unwrap();
    first.wait().unwrap();
    assert_eq!(count(&log, "leg 2 done"), 0, "killed before leg 2 ended");
    {
        let store: Arc<dyn RunStore> = Arc::new(SqliteStore::open(dir.join("runs.db")).unwrap());
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let _inside = runtime.enter();
        let legs = Legs { log: dir.join("unused"), pause: Duration::ZERO };
        let alone = Arc::new(legs).recover(store).unwrap();
        assert!(alone.is_empty(), "the child's unfinished journal is its parent's to take up");
    }

    let second = life(&dir).wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&second.stdout);
    assert!(stdout.contains("RESULT the child ended at leg 3"), "{stdout}");
    assert_eq!(count(&log, "delegate started"), 2, "the parent's step in flight ran again");
    assert_eq!(count(&log, "leg 1 started"), 1, "the child's finished leg did not run again");
    assert_eq!(count(&log, "leg 1 done"), 1);
    assert_eq!(count(&log, "leg 2 started"), 2, "the child's leg in flight did");
    assert_eq!((count(&log, "leg 2 done"), count(&log, "leg 3 done")), (1, 1));
}
