//! The server keeps its promises across crashes and restarts: a server
//! killed with SIGKILL mid-run and mid-stream, and started again on the
//! same store, finishes every run with its exact result, and a reader that
//! reconnects with its last id sees a dense, ordered log ending with the
//! terminal event, each of the steps' events once. Also: a run whose state
//! cannot be journaled ends as failed on restart, and SIGTERM ends open
//! streams by the drain deadline and exits.
//!
//! The server runs in a child process: this test binary again, running
//! [`child_server`] (`RESTART_CHILD` set). `scripts/soak-server N` runs the
//! kill test for N kills.

mod flows;
mod http;

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// Serves the restart flows when this binary is started as the child.
#[test]
fn child_server() {
    let Ok(db) = std::env::var("RESTART_CHILD") else { return };
    let drain = std::env::var("RESTART_DRAIN_MS").ok().and_then(|d| d.parse().ok()).unwrap_or(10_000);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = workflow_server::Store::open(db).unwrap();
        let server = flows::restart_server().store(store).drain(Duration::from_millis(drain));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!("listening on {}", listener.local_addr().unwrap());
        let terminate = async {
            let mut sigterm =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).unwrap();
            sigterm.recv().await;
        };
        server.serve(listener, terminate).await.unwrap();
    });
}

/// A server in a child process, on the store at `db`.
struct Server {
    child: Child,
    addr: String,
}

impl Server {
    fn start(db: &Path, drain_ms: u64) -> Self {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["child_server", "--exact", "--nocapture", "--test-threads=1"])
            .env("RESTART_CHILD", db)
            .env("RESTART_DRAIN_MS", drain_ms.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = std::io::BufReader::new(stdout).lines();
        let addr = loop {
            let line = lines.next().expect("the child says where it listens").unwrap();
            // libtest may have written the test's name on the same line.
            if let Some(at) = line.find("listening on ") {
                break line[at + "listening on ".len()..].trim().to_owned();
            }
        };
        // Keep reading its output, so that it never blocks on a full pipe.
        thread::spawn(move || for _ in lines {});
        Self { child, addr }
    }

    fn kill(mut self) {
        self.child.kill().unwrap(); // SIGKILL
        self.child.wait().unwrap();
    }
}

fn temp_db(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("workflow-server-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("runs.db")
}

/// A reader of one run's events that reconnects with its last id until it
/// has the terminal event; it checks, event by event, that the log is dense.
fn follow(addr: Arc<Mutex<String>>, id: String, deadline: Instant) -> Vec<Value> {
    let mut seen: Vec<Value> = Vec::new();
    while Instant::now() < deadline {
        let at = addr.lock().unwrap().clone();
        let last = seen.len().checked_sub(1).map(|n| n.to_string());
        let path = format!("/events/{id}?include_internal=true&after_sequence=-1");
        let mut headers = Vec::new();
        if let Some(last) = &last {
            headers.push(("Last-Event-ID", last.as_str()));
        }
        let ended = http::sse(&at, &path, &headers, |sequence, envelope| {
            assert_eq!(sequence, seen.len() as u64, "run {id}: a gap or a repeat after {seen:?}");
            let terminal = envelope["type"] == "StopEvent";
            seen.push(envelope);
            terminal
        });
        if ended {
            return seen;
        }
        thread::sleep(Duration::from_millis(20));
    }
    panic!("run {id} did not end; it logged {seen:?}");
}

const LAPS: u32 = 6;

/// What a relay of `LAPS` laps shows of its own: two marks a lap, then the sum.
fn expected_marks() -> Vec<Value> {
    (1..=LAPS).flat_map(|lap| [json!({"lap": lap, "half": 0}), json!({"lap": lap, "half": 1})]).collect()
}

/// Kills the server `kills` times at random moments while relays run and
/// readers follow them, and checks every run and every reader.
fn kill_and_restart(kills: u32, runs: usize) {
    let db = temp_db(&format!("kill-{kills}"));
    let mut server = Server::start(&db, 10_000);
    let addr = Arc::new(Mutex::new(server.addr.clone()));
    let ids: Vec<String> = (0..runs).map(|i| format!("relay-{i}")).collect();
    let mut readers = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60 + u64::from(kills) / 2);
    let mut random = 0x2545_f491_4f6c_dd1d_u64 ^ u64::from(std::process::id());
    let mut next = move |below: u64| {
        random ^= random << 13;
        random ^= random >> 7;
        random ^= random << 17;
        random % below
    };
    let mut started = 0;
    let mut forgetful = None;
    for kill in 0..kills {
        // New runs keep coming, so that every kill finds some mid-way.
        while started < ids.len() && (started as u32) < (kill + 1) * (runs as u32) / kills.max(1) + 1 {
            let id = &ids[started];
            let body = json!({ "start_event": { "input": LAPS }, "handler_id": id });
            let (status, record) =
                http::call(&server.addr, "POST", "/workflows/relay/run-nowait", Some(&body));
            assert_eq!(status, 200, "{record}");
            let (addr, id) = (Arc::clone(&addr), id.clone());
            readers.push(thread::spawn(move || (id.clone(), follow(addr, id, deadline))));
            started += 1;
        }
        if kill == 0 {
            let body = json!({ "start_event": { "input": 60_000 }, "handler_id": "forgetful" });
            let (status, _) =
                http::call(&server.addr, "POST", "/workflows/forgetful/run-nowait", Some(&body));
            assert_eq!(status, 200);
            forgetful = Some(());
        }
        thread::sleep(Duration::from_millis(40 + next(200)));
        server.kill();
        server = Server::start(&db, 10_000);
        *addr.lock().unwrap() = server.addr.clone();
    }
    let mut reran = 0;
    for reader in readers {
        let (id, seen) = reader.join().expect("a reader checks its log");
        let marks: Vec<Value> =
            seen.iter().filter(|e| e["type"] == "Mark").map(|e| e["value"].clone()).collect();
        assert_eq!(marks, expected_marks(), "run {id}");
        let sum: u32 = (1..=LAPS).sum();
        assert_eq!(seen.last().unwrap()["value"]["result"], json!(sum), "run {id}");
        let running = seen.iter().filter(|e| e["value"]["step_state"] == "running").count();
        reran += running - (LAPS as usize + 1);
        let (status, result) = http::call(&server.addr, "GET", &format!("/results/{id}"), None);
        assert_eq!((status, &result["result"]), (200, &json!(sum)), "run {id}");
    }
    assert!(reran > 0, "no kill landed while a step was in flight");
    if forgetful.is_some() {
        let (status, record) = http::call(&server.addr, "GET", "/handlers/forgetful", None);
        assert_eq!((status, record["status"].as_str()), (500, Some("failed")), "{record}");
        assert!(record["error"].as_str().unwrap().contains("cannot be journaled"), "{record}");
    }
    println!("{kills} kills, {runs} runs, {reran} steps run again after a kill");
    server.kill();
}

#[test]
fn killed_mid_run_and_mid_stream_every_run_finishes_and_readers_see_each_event_once() {
    if std::env::var("RESTART_CHILD").is_ok() {
        return;
    }
    let kills = std::env::var("SOAK_KILLS").ok().and_then(|k| k.parse().ok()).unwrap_or(6);
    let runs = std::env::var("SOAK_RUNS").ok().and_then(|r| r.parse().ok()).unwrap_or(8);
    kill_and_restart(kills, runs);
}

#[test]
fn sigterm_ends_open_streams_by_the_drain_deadline_and_a_restart_resumes() {
    if std::env::var("RESTART_CHILD").is_ok() {
        return;
    }
    let db = temp_db("sigterm");
    let server = Server::start(&db, 300);
    let body = json!({ "start_event": { "input": "tea" }, "handler_id": "asked" });
    let (status, _) = http::call(&server.addr, "POST", "/workflows/hitl/run-nowait", Some(&body));
    assert_eq!(status, 200);
    // A stream that would stay open for as long as the run waits.
    let at = server.addr.clone();
    let stream = thread::spawn(move || {
        let mut events = 0;
        let ended = http::sse(&at, "/events/asked?after_sequence=-1", &[], |_, _| {
            events += 1;
            false
        });
        (ended, events)
    });
    // And a `POST /run` that waits for a run that will not end.
    let at = server.addr.clone();
    let waiting = thread::spawn(move || {
        let body = json!({ "start_event": { "input": "coffee" }, "handler_id": "waited" });
        http::call(&at, "POST", "/workflows/hitl/run", Some(&body))
    });
    thread::sleep(Duration::from_millis(200));
    let Server { mut child, .. } = server;
    let asked = Instant::now();
    let terminated = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(terminated.success());
    let exit = child.wait().unwrap();
    let took = asked.elapsed();
    assert!(exit.success(), "{exit:?}");
    assert!(took < Duration::from_secs(3), "took {took:?} to stop, with a 300 ms drain");
    assert!(took >= Duration::from_millis(250), "stopped in {took:?}, before the drain deadline");
    let (ended_with_terminal, events) = stream.join().unwrap();
    assert!(!ended_with_terminal);
    assert!(events >= 1, "the reader saw the question");
    // The waiting request was answered with the run as it stood: running.
    let (status, record) = waiting.join().unwrap();
    assert_eq!((status, record["status"].as_str()), (202, Some("running")), "{record}");

    let server = Server::start(&db, 300);
    let (status, record) = http::call(&server.addr, "GET", "/handlers/asked", None);
    assert_eq!((status, record["status"].as_str()), (202, Some("running")), "{record}");
    let answer = json!({ "event": { "type": "Answered", "value": { "answer": "yes" } } });
    let (status, sent) = http::call(&server.addr, "POST", "/events/asked", Some(&answer));
    assert_eq!(status, 200, "{sent}");
    let record = http::wait_for_end(&server.addr, "asked");
    assert_eq!(record["result"]["value"]["result"], json!("you said: yes"), "{record}");
    server.kill();
}
