//! Durable runs survive SIGKILL: a child process runs many workflows and is
//! killed at random points, restarted each time, and in the end every run
//! has its expected result, with nothing lost and nothing counted twice.
//!
//! The kill phase lasts until at least `WORKFLOW_KILLS` kills (20 by default)
//! have landed *and* every run has been started, journaled and interrupted
//! at least once, so that no run can slip through in the final, unkilled
//! restart; each kill must land while runs are in progress. The runs are
//! sized to the kills (`WORKFLOW_KILL_RUNS` overrides it), and instead of a
//! time limit the final restart must keep finishing runs: it fails if none
//! finishes for [`STUCK`]. `scripts/soak-durable` runs it for longer.

use std::collections::BTreeSet;
use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use workflow_core::prelude::*;
use workflow_durable::{Outcome, SqliteStore};

/// How many kills at least (`WORKFLOW_KILLS`, 20 by default).
fn kills() -> u32 {
    std::env::var("WORKFLOW_KILLS").ok().and_then(|k| k.parse().ok()).unwrap_or(20)
}

/// How many runs the child must finish (`WORKFLOW_KILL_RUNS`). By default
/// five for every four kills: a life of the child moves about five of the
/// runs' steps on, and a run has six, so interrupting every run takes about
/// half as many kills again as asked for. Work then remains for every kill:
/// the phase ends when the last run started has been interrupted.
fn runs() -> u64 {
    let sized = u64::from(kills()) * 5 / 4;
    std::env::var("WORKFLOW_KILL_RUNS").ok().and_then(|r| r.parse().ok()).unwrap_or(sized.max(1))
}

/// At most this many runs in flight in one process, so that the work lasts.
const IN_FLIGHT: usize = 8;

/// The final restart fails if no run finishes for this long.
const STUCK: Duration = Duration::from_secs(30);

/// How long a restarted child may take to recover and say it is ready.
const START_UP: Duration = Duration::from_secs(60);

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

fn key(n: u64) -> String {
    format!("run-{n:05}")
}

/// The child: recover what the last process left (`RESUMED key` for each),
/// say `READY`, start what is missing, and say `FINISHED key` as each run
/// ends and `DONE` at the end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child_process() {
    let Some(path) = std::env::var_os("WORKFLOW_KILL_CHILD") else { return };
    let store = Arc::new(SqliteStore::open(path).unwrap());
    let shared: Arc<dyn workflow_core::durable::RunStore> = store.clone();
    let flow = Arc::new(Relay);
    let mut running = tokio::task::JoinSet::new();
    let finish = |key: String, handler: workflow_core::Handler<Relay>| async move {
        handler.await.unwrap_or_else(|e| panic!("{key}: {e}"));
        println!("FINISHED {key}");
    };
    for (key, handler) in Arc::clone(&flow).recover(Arc::clone(&shared)).unwrap() {
        println!("RESUMED {key}");
        running.spawn(finish(key, handler));
    }
    println!("READY");
    let known: BTreeSet<String> = store.keys().unwrap().into_iter().collect();
    for n in 0..runs() {
        let key = key(n);
        if known.contains(&key) {
            continue;
        }
        while running.len() >= IN_FLIGHT {
            running.join_next().await.unwrap().unwrap();
        }
        let durable = RunOptions::new().durable(Arc::clone(&shared), key.clone());
        let handler = Arc::clone(&flow).start_with(n, durable);
        running.spawn(finish(key, handler));
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

/// One life of the child process, its stdout read line by line on a thread.
struct Life {
    process: Child,
    lines: mpsc::Receiver<String>,
    stderr: std::path::PathBuf,
}

impl Life {
    fn start(db: &std::path::Path) -> Self {
        let stderr = db.with_extension("stderr");
        let mut process = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "child_process", "--nocapture", "--test-threads=1"])
            .env("WORKFLOW_KILL_CHILD", db)
            .env("WORKFLOW_KILL_RUNS", runs().to_string())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap();
        let stdout = process.stdout.take().unwrap();
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                // The test harness starts the child's first line with its own
                // unterminated `test child_process ... `.
                let line = line.rsplit("... ").next().unwrap_or_default().to_owned();
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        Self { process, lines, stderr }
    }

    /// The next line, or `None` at the end of the output or after `within`.
    fn next_line(&self, within: Duration) -> Result<String, mpsc::RecvTimeoutError> {
        self.lines.recv_timeout(within)
    }

    /// Fails the test with what the child wrote to stderr.
    fn fail(mut self, why: &str) -> ! {
        let _ = self.process.kill();
        let _ = self.process.wait();
        let stderr = std::fs::read_to_string(&self.stderr).unwrap_or_default();
        panic!("{why}\nthe child's stderr:\n{stderr}");
    }
}

#[test]
fn runs_killed_at_random_points_all_finish_with_nothing_lost() {
    if std::env::var_os("WORKFLOW_KILL_CHILD").is_some() {
        return;
    }
    let (kills, runs) = (kills(), runs());
    let all: BTreeSet<String> = (0..runs).map(key).collect();
    let db = std::env::temp_dir().join(format!("workflow-kill-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&db);
    let mut random = Lcg(u64::from(std::process::id()) | 1);
    // Runs that a restart found journaled and unfinished: each was
    // interrupted by a kill, after its start was written down.
    let mut interrupted = BTreeSet::new();
    let mut landed = 0u32;
    let began = Instant::now();
    // Far more than enough: one kill in a life that made no progress at all
    // would still leave this much room.
    let limit = 20 * kills.max(runs as u32).max(10);
    while landed < kills || interrupted != all {
        assert!(
            landed < limit,
            "{landed} kills interrupted only {} of {runs} runs: the child makes no progress",
            interrupted.len()
        );
        let mut life = Life::start(&db);
        loop {
            match life.next_line(START_UP) {
                Ok(line) if line == "READY" => break,
                Ok(line) => {
                    if let Some(key) = line.strip_prefix("RESUMED ") {
                        interrupted.insert(key.to_owned());
                    }
                }
                Err(_) => life.fail("the child ended or hung before it was ready"),
            }
        }
        // A random point in the child's work: each run's legs take 50 ms.
        std::thread::sleep(Duration::from_millis(10 + random.next(90)));
        if life.process.try_wait().unwrap().is_some() {
            let why = format!(
                "the child ended before kill {}: the work ran out with {} of {runs} runs interrupted; \
                 give more runs (WORKFLOW_KILL_RUNS) for {kills} kills",
                landed + 1,
                interrupted.len(),
            );
            life.fail(&why);
        }
        life.process.kill().unwrap(); // SIGKILL
        life.process.wait().unwrap();
        landed += 1;
    }
    let killing = began.elapsed();

    // The last restart runs to the end, finishing runs as it goes.
    let life = Life::start(&db);
    let mut finished = 0;
    let began = Instant::now();
    loop {
        match life.next_line(STUCK) {
            Ok(line) if line == "DONE" => break,
            Ok(line) if line.starts_with("FINISHED ") => finished += 1,
            Ok(_) => {}
            Err(mpsc::RecvTimeoutError::Timeout) => {
                life.fail(&format!("the final restart finished no run for {STUCK:?} ({finished} so far)"))
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => life.fail("the final restart ended without DONE"),
        }
    }
    let mut life = life;
    assert!(life.process.wait().unwrap().success());

    let store = SqliteStore::open(&db).unwrap();
    for n in 0..runs {
        let outcome = store.outcome(&key(n)).unwrap();
        assert_eq!(outcome, Some(Outcome::Stopped(serde_json::json!(expected(n)))), "{}", key(n));
    }
    eprintln!(
        "{landed} kills (at least {kills} asked) landed while runs were in progress, in {:.1} s; \
         all {runs} runs were interrupted at least once; the final restart finished {finished} in {:.1} s",
        killing.as_secs_f64(),
        began.elapsed().as_secs_f64(),
    );
    let _ = std::fs::remove_file(&db);
    let _ = std::fs::remove_file(db.with_extension("stderr"));
}
