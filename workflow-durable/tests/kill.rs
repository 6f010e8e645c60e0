//! Durable runs survive SIGKILL: a child process runs many workflows and is
//! killed at random points, restarted each time, and in the end every run
//! has its expected result, with nothing lost and nothing counted twice.
//!
//! `WORKFLOW_KILLS` sets how many kills (20 by default) and `WORKFLOW_KILL_RUNS`
//! how many runs; `scripts/soak-durable` runs it for longer.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use workflow_core::prelude::*;
use workflow_durable::{Outcome, SqliteStore};

/// How many runs the child must finish (`WORKFLOW_KILL_RUNS`, 80 by default:
/// enough work that 20 kills all land while runs are in progress).
fn runs() -> u64 {
    std::env::var("WORKFLOW_KILL_RUNS").ok().and_then(|r| r.parse().ok()).unwrap_or(80)
}
/// At most this many runs in flight in one process, so that the work lasts.
const IN_FLIGHT: usize = 8;

#[derive(Default, Clone, Debug, Serialize, Deserialize)]
struct Tally {
    total: u64,
    steps: Vec<u8>,
}

#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct Leg(u8);

#[derive(Default)]
struct Relay;

#[workflow]
impl Relay {
    #[step]
    async fn begin(&self, ctx: &Context<Tally>, ev: StartEvent<u64>) -> Result<Leg, ContextError> {
        ctx.set("n", ev.input)?;
        Ok(Leg(1))
    }

    /// Five legs, each awaiting (so each is a step boundary the journal
    /// records) and adding to the state.
    #[step(num_workers = 1)]
    async fn leg(&self, ctx: &Context<Tally>, ev: Leg) -> Result<Emit<(Leg, StopEvent<u64>)>, ContextError> {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let n: u64 = ctx.get("n")?;
        let total = ctx.update(|t| {
            t.total += n * u64::from(ev.0);
            t.steps.push(ev.0);
            t.total
        });
        if ev.0 == 5 {
            let steps = ctx.read(|t| t.steps.clone());
            assert_eq!(steps, [1, 2, 3, 4, 5], "each leg counted once in the final state");
            Ok(Emit::new(StopEvent::new(total)))
        } else {
            Ok(Emit::new(Leg(ev.0 + 1)))
        }
    }
}

fn expected(n: u64) -> u64 {
    n * 15
}

/// The child: recover what the last process left, start what is missing,
/// wait for everything, print DONE.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child_process() {
    let Some(path) = std::env::var_os("WORKFLOW_KILL_CHILD") else { return };
    let store = Arc::new(SqliteStore::open(path).unwrap());
    let shared: Arc<dyn workflow_core::RunStore> = store.clone();
    let flow = Arc::new(Relay);
    let mut running = tokio::task::JoinSet::new();
    for (key, handler) in workflow_core::recover(Arc::clone(&flow), Arc::clone(&shared)).unwrap() {
        running.spawn(async move { handler.await.unwrap_or_else(|e| panic!("{key}: {e}")) });
    }
    let known: BTreeSet<String> = store.keys().unwrap().into_iter().collect();
    for n in 0..runs() {
        let key = format!("run-{n:05}");
        if known.contains(&key) {
            continue;
        }
        while running.len() >= IN_FLIGHT {
            running.join_next().await.unwrap().unwrap();
        }
        let handler = Arc::clone(&flow).start_durable(key.clone(), n, RunOptions::new(), Arc::clone(&shared));
        running.spawn(async move { handler.await.unwrap_or_else(|e| panic!("{key}: {e}")) });
    }
    while let Some(done) = running.join_next().await {
        done.unwrap();
    }
    println!("DONE");
}

/// A small deterministic generator for kill delays.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % below
    }
}

#[test]
fn runs_killed_at_random_points_all_finish_with_nothing_lost() {
    if std::env::var_os("WORKFLOW_KILL_CHILD").is_some() {
        return;
    }
    let kills: u32 = std::env::var("WORKFLOW_KILLS").ok().and_then(|k| k.parse().ok()).unwrap_or(20);
    let db = std::env::temp_dir().join(format!("workflow-kill-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&db);
    let child = || {
        std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "child_process", "--nocapture", "--test-threads=1"])
            .env("WORKFLOW_KILL_CHILD", &db)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut random = Lcg(u64::from(std::process::id()) | 1);
    let mut killed_midway = 0;
    for _ in 0..kills {
        let mut process = child();
        std::thread::sleep(Duration::from_millis(10 + random.next(90)));
        if process.try_wait().unwrap().is_none() {
            process.kill().unwrap(); // SIGKILL
            killed_midway += 1;
        }
        let output = process.wait_with_output().unwrap();
        if output.status.success() {
            break; // everything finished before this kill
        }
    }
    // The last restart runs to the end.
    let started = Instant::now();
    let output = child().wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("DONE"),
        "the final restart failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(started.elapsed() < Duration::from_secs(60));

    let store = SqliteStore::open(&db).unwrap();
    for n in 0..runs() {
        let key = format!("run-{n:05}");
        let outcome = store.outcome(&key).unwrap();
        assert_eq!(outcome, Some(Outcome::Stopped(serde_json::json!(expected(n)))), "{key}");
    }
    eprintln!("{killed_midway} kills landed while runs were in progress");
    assert_eq!(killed_midway, kills, "every kill must land while runs are in progress");
    let _ = std::fs::remove_file(&db);
}
