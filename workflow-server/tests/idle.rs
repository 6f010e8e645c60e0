//! Idle release: a run that waits for outside input with no step in flight
//! leaves memory after the idle period and is loaded again from its
//! journal when an event or a cancel comes; a step suspended in
//! `wait_for_event` keeps its run in memory (it could not be unloaded
//! without running the step again).

mod flows;

use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use axum::Router;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;
use workflow_server::RunsView;

async fn call(app: &Router, method: &str, uri: &str, body: Option<Value>) -> (u16, Value) {
    let body = body.map_or_else(Body::empty, |b| Body::from(b.to_string()));
    let request = Request::builder().method(method).uri(uri).body(body).unwrap();
    let response = tokio::time::timeout(Duration::from_secs(10), app.clone().oneshot(request))
        .await
        .expect("the route answers")
        .unwrap();
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

fn server(idle: Duration) -> (Router, RunsView) {
    flows::restart_server().idle_release(Some(idle)).router_and_runs()
}

/// Waits until `loaded` runs are loaded; false if that does not happen within 3 s.
async fn loaded(view: &RunsView, loaded: usize) -> bool {
    for _ in 0..300 {
        if view.loaded() == loaded {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

/// The log of handler `id` so far, internal events included: what its
/// stream gives until it ends or pauses for 300 ms.
async fn log(app: &Router, id: &str) -> Vec<Value> {
    let request = Request::builder()
        .uri(format!("/events/{id}?sse=false&include_internal=true&after_sequence=-1"))
        .body(Body::empty())
        .unwrap();
    let mut body = app.clone().oneshot(request).await.unwrap().into_body();
    let mut bytes = Vec::new();
    while let Ok(Some(Ok(frame))) = tokio::time::timeout(Duration::from_millis(300), body.frame()).await {
        bytes.extend(frame.into_data().unwrap_or_default());
    }
    String::from_utf8_lossy(&bytes).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

async fn start(app: &Router, workflow: &str, id: &str, input: Value) {
    let body = json!({ "start_event": { "input": input }, "handler_id": id });
    let (status, record) = call(app, "POST", &format!("/workflows/{workflow}/run-nowait"), Some(body)).await;
    assert_eq!(status, 200, "{record}");
}

async fn wait_for_end(app: &Router, id: &str) -> Value {
    for _ in 0..500 {
        let (_, record) = call(app, "GET", &format!("/handlers/{id}"), None).await;
        if record["status"] != "running" {
            return record;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("handler {id} did not end");
}

/// The path of a store file that does not exist yet, for test `name`.
fn fresh_db(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("workflow-server-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("runs.db");
    let _ = std::fs::remove_file(&db);
    db
}

fn answer(text: &str) -> Value {
    json!({ "event": { "type": "Answered", "value": { "answer": text } } })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_run_is_released_and_loaded_again_by_an_event() {
    let (app, view) = server(Duration::from_millis(100));
    start(&app, "hitl", "asked", json!("tea")).await;
    assert!(loaded(&view, 0).await, "the idle run was not released: {view:?}");
    // Its record and log are still served, from the store.
    let (status, record) = call(&app, "GET", "/handlers/asked", None).await;
    assert_eq!((status, record["status"].as_str()), (202, Some("running")));
    let before = log(&app, "asked").await;
    assert!(before.iter().any(|e| e["type"] == "Asked"), "{before:?}");

    let (status, sent) = call(&app, "POST", "/events/asked", Some(answer("yes"))).await;
    assert_eq!(status, 200, "{sent}");
    let record = wait_for_end(&app, "asked").await;
    assert_eq!(record["result"]["value"]["result"], json!("you said: yes"), "{record}");
    let after = log(&app, "asked").await;
    assert_eq!(after[..before.len()], before[..], "what was logged before the release stays");
    assert_eq!(after.iter().filter(|e| e["type"] == "Asked").count(), 1, "{after:?}");
    assert_eq!(after.last().unwrap()["type"], "StopEvent");
    assert!(loaded(&view, 0).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_released_run_is_loaded_again_to_be_cancelled() {
    let (app, view) = server(Duration::from_millis(50));
    start(&app, "hitl", "dropped", json!("coffee")).await;
    assert!(loaded(&view, 0).await, "the idle run was not released: {view:?}");
    let (status, body) = call(&app, "POST", "/handlers/dropped/cancel", None).await;
    assert_eq!((status, body), (200, json!({ "status": "cancelled" })));
    let (_, record) = call(&app, "GET", "/handlers/dropped", None).await;
    assert_eq!(record["status"], "cancelled", "{record}");
    assert_eq!(log(&app, "dropped").await.last().unwrap()["type"], "WorkflowCancelledEvent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_waiting_in_place_keeps_its_run_in_memory() {
    let (app, view) = server(Duration::from_millis(50));
    start(&app, "patient", "waiting", json!("milk")).await;
    assert!(loaded(&view, 1).await);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(view.loaded(), 1, "a run with a step waiting in place was released");
    let (status, _) = call(&app, "POST", "/events/waiting", Some(answer("no"))).await;
    assert_eq!(status, 200);
    let record = wait_for_end(&app, "waiting").await;
    assert_eq!(record["result"]["value"]["result"], json!("you said: no"), "{record}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_released_run_whose_journal_no_longer_fits_ends_as_failed_when_an_event_comes() {
    let db = fresh_db("idle");
    let store = workflow_server::Store::open(&db).unwrap();
    let (app, view) =
        flows::restart_server().store(store).idle_release(Some(Duration::from_millis(50))).router_and_runs();
    start(&app, "hitl", "broken", json!("juice")).await;
    assert!(loaded(&view, 0).await, "the idle run was not released: {view:?}");
    // Someone edits the journal behind the server's back.
    let sql = rusqlite::Connection::open(&db).unwrap();
    sql.execute("UPDATE runs SET snapshot = '{\"format\": 999}' WHERE key = 'broken'", []).unwrap();
    let (status, body) = call(&app, "POST", "/events/broken", Some(answer("yes"))).await;
    assert_eq!(status, 409, "{body}");
    let (_, record) = call(&app, "GET", "/handlers/broken", None).await;
    assert_eq!(record["status"], "failed", "{record}");
    assert!(record["error"].as_str().unwrap().contains("The run could not be resumed"), "{record}");
    assert_eq!(log(&app, "broken").await.last().unwrap()["type"], "WorkflowFailedEvent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_whose_store_fails_ends_as_failed_rather_than_hanging() {
    let db = fresh_db("failing");
    let store = workflow_server::Store::open(&db).unwrap();
    let (app, _) = flows::restart_server().store(store).router_and_runs();
    start(&app, "relay", "doomed", json!(20)).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    // The disk fills up behind the server's back: no event can be written.
    let sql = rusqlite::Connection::open(&db).unwrap();
    sql.execute_batch(
        "CREATE TRIGGER full BEFORE INSERT ON events BEGIN SELECT RAISE(FAIL, 'disk full'); END;",
    )
    .unwrap();
    let record = wait_for_end(&app, "doomed").await;
    assert_eq!(record["status"], "failed", "{record}");
    assert!(record["error"].as_str().unwrap().contains("disk full"), "{record}");
    // Readers see the end too, though the store could not keep it.
    assert_eq!(log(&app, "doomed").await.last().unwrap()["type"], "WorkflowFailedEvent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_that_stopped_before_its_first_journal_starts_again_from_its_input() {
    let db = fresh_db("unjournaled");
    drop(workflow_server::Store::open(&db).unwrap()); // the tables
                                                      // What a server killed between recording a handler and its first journal leaves.
    let sql = rusqlite::Connection::open(&db).unwrap();
    sql.execute(
        "INSERT INTO handlers (id, workflow, run_id, status, input, started_at, updated_at, durable)
         VALUES ('early', 'relay', 'r1', 'running', '3', '2026-12-08T00:00:00Z', '2026-12-08T00:00:00Z', 1)",
        [],
    )
    .unwrap();
    let store = workflow_server::Store::open(&db).unwrap();
    let (app, _) = flows::restart_server().store(store).router_and_runs();
    let record = wait_for_end(&app, "early").await;
    assert_eq!(record["result"]["value"]["result"], json!(6), "{record}");
    let marks = log(&app, "early").await.into_iter().filter(|e| e["type"] == "Mark").count();
    assert_eq!(marks, 6, "three laps, two marks each");
}
