//! Every route of the protocol, and every error path of each, through the
//! router (no socket): status codes, JSON bodies with `detail`, handlers,
//! envelopes, streams and cursors.

mod flows;

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

async fn call(app: &Router, method: &str, uri: &str, body: Option<&str>) -> (StatusCode, Value) {
    let (status, text) = raw(app, method, uri, body, &[]).await;
    let json = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, json)
}

async fn raw(
    app: &Router,
    method: &str,
    uri: &str,
    body: Option<&str>,
    headers: &[(&str, &str)],
) -> (StatusCode, String) {
    let mut request = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request.body(body.map_or_else(Body::empty, |b| Body::from(b.to_owned()))).unwrap();
    let response = tokio::time::timeout(Duration::from_secs(10), app.clone().oneshot(request))
        .await
        .expect("the route answers")
        .unwrap();
    let status = response.status();
    let bytes = tokio::time::timeout(Duration::from_secs(10), response.into_body().collect())
        .await
        .expect("the body ends")
        .unwrap()
        .to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

fn app() -> Router {
    flows::server().router()
}

const HANDLER_KEYS: [&str; 10] = [
    "handler_id",
    "workflow_name",
    "run_id",
    "error",
    "result",
    "result_unreadable",
    "status",
    "started_at",
    "updated_at",
    "completed_at",
];

#[tokio::test]
async fn health_workflows_and_unknown_routes_and_methods() {
    let app = app();
    assert_eq!(call(&app, "GET", "/health", None).await, (StatusCode::OK, json!({"status": "healthy"})));
    let (status, body) = call(&app, "GET", "/workflows", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["workflows"],
        json!(["greeting", "crashing", "hitl", "ticker", "sleeper", "slow", "chain"])
    );
    assert_eq!(
        call(&app, "GET", "/nope", None).await,
        (StatusCode::NOT_FOUND, json!({"detail": "Not Found"}))
    );
    assert_eq!(
        call(&app, "DELETE", "/health", None).await,
        (StatusCode::METHOD_NOT_ALLOWED, json!({"detail": "Method Not Allowed"}))
    );
    for uri in ["/workflows/nope/schema", "/workflows/nope/events", "/workflows/nope/representation"] {
        assert_eq!(
            call(&app, "GET", uri, None).await,
            (StatusCode::NOT_FOUND, json!({"detail": "Workflow 'nope' not found"}))
        );
    }
    let (status, body) = call(&app, "GET", "/handlers/%FF", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a path that is not UTF-8: {body}");
    assert!(body["detail"].is_string(), "{body}");
    let nested = axum::Router::new().nest("/api", flows::server().router());
    assert_eq!(
        call(&nested, "GET", "/api/health", None).await,
        (StatusCode::OK, json!({"status": "healthy"}))
    );
    let (status, body) = call(&app, "POST", "/workflows/nope/run", Some("{}")).await;
    assert_eq!((status, body["detail"].as_str()), (StatusCode::NOT_FOUND, Some("Workflow 'nope' not found")));
}

#[tokio::test]
async fn schemas_are_titled_with_their_envelope_types() {
    let app = app();
    let (_, schema) = call(&app, "GET", "/workflows/greeting/schema", None).await;
    assert_eq!(
        (schema["start"]["title"].clone(), schema["stop"]["title"].clone()),
        (json!("InputEvent"), json!("OutputEvent"))
    );
    let (_, events) = call(&app, "GET", "/workflows/hitl/events", None).await;
    let titles: Vec<&str> =
        events["events"].as_array().unwrap().iter().map(|e| e["title"].as_str().unwrap()).collect();
    assert_eq!(titles, ["StartEvent", "Asked", "Answered", "StopEvent"]);
    let (_, graph) = call(&app, "GET", "/workflows/hitl/representation", None).await;
    let asked = graph["graph"]["nodes"].as_array().unwrap().iter().find(|n| n["id"] == "Asked").unwrap();
    assert_eq!(asked["event_types"], json!(["Asked", "InputRequiredEvent"]));
    assert_eq!(asked["produced_by"], json!(["ask"]));
}

#[tokio::test]
async fn run_answers_the_handler_and_its_status_code() {
    let app = app();
    for body in [
        r#"{"start_event": {"greeting": "hello", "name": "Ada"}}"#,
        r#"{"start_event": {"type": "InputEvent", "value": {"greeting": "hello", "name": "Ada"}}}"#,
        r#"{"start_event": "{\"type\": \"InputEvent\", \"data\": {\"greeting\": \"hello\", \"name\": \"Ada\"}}"}"#,
        r#"{"kwargs": {"greeting": "hello", "name": "Ada"}, "context": {}}"#,
    ] {
        let (status, handler) = call(&app, "POST", "/workflows/greeting/run", Some(body)).await;
        assert_eq!(status, StatusCode::OK, "{body}: {handler}");
        for key in HANDLER_KEYS {
            assert!(handler.get(key).is_some(), "{key} in {handler}");
        }
        assert_eq!(handler["status"], "completed");
        assert_eq!(
            handler["result"],
            json!({"value": {"greeting": "hello Ada!!"}, "qualified_name": "routes.flows.OutputEvent", "type": "OutputEvent", "types": ["StopEvent"]})
        );
    }
    let (status, failed) = call(&app, "POST", "/workflows/crashing/run", Some("{}")).await;
    assert_eq!((status, failed["status"].as_str()), (StatusCode::INTERNAL_SERVER_ERROR, Some("failed")));
    assert!(failed["error"].as_str().unwrap().contains("the disk is full"));
    let (status, timed_out) =
        call(&app, "POST", "/workflows/slow/run", Some(r#"{"start_event": {"input": 5000}}"#)).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(timed_out["error"], "Workflow timed out after 0.5s");
}

#[tokio::test]
async fn bad_run_bodies_are_400_with_a_detail() {
    let app = app();
    let cases = [
        ("not json", "The request body is not valid JSON"),
        ("[1]", "The request body must be a JSON object"),
        (r#"{"context": {"state": 1}}"#, "Starting from a given context is not supported"),
        (r#"{"handler_id": 7}"#, "handler_id must be a string"),
        (r#"{"start_event": null, "kwargs": [1]}"#, "kwargs must be a JSON object"),
        (r#"{"start_event": {"greeting": 1, "name": "Ada"}}"#, "invalid input for workflow `Greeting`"),
        (
            r#"{"start_event": {"type": "Nope", "value": {}}}"#,
            "Invalid event type: Nope. Expected one of InputEvent, GreetEvent, OutputEvent",
        ),
        (
            r#"{"start_event": {"type": "GreetEvent", "value": {}}}"#,
            "Invalid start event type: GreetEvent. Expected InputEvent",
        ),
        (r#"{"start_event": 5}"#, "Invalid event: an event is a JSON object"),
    ];
    for (body, detail) in cases {
        let (status, answer) = call(&app, "POST", "/workflows/greeting/run-nowait", Some(body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        assert!(answer["detail"].as_str().unwrap().starts_with(detail), "{body}: {answer}");
    }
}

#[tokio::test]
async fn a_body_over_the_limit_is_a_413_with_a_detail() {
    let app = flows::server().body_limit(64).router();
    let big = format!(r#"{{"start_event": {{"greeting": "{}", "name": "Ada"}}}}"#, "a".repeat(100));
    let (status, answer) = call(&app, "POST", "/workflows/greeting/run", Some(&big)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(answer["detail"], "The request body is larger than 64 bytes");
}

#[tokio::test]
async fn handler_ids_are_refused_while_running_and_reused_after() {
    let app = app();
    let body = r#"{"handler_id": "mine", "start_event": {"input": 10000}}"#;
    let (status, running) = call(&app, "POST", "/workflows/sleeper/run-nowait", Some(body)).await;
    assert_eq!(
        (status, running["handler_id"].as_str(), running["status"].as_str()),
        (StatusCode::OK, Some("mine"), Some("running"))
    );
    assert_eq!(call(&app, "GET", "/handlers/mine", None).await.0, StatusCode::ACCEPTED);
    let (status, answer) = call(&app, "POST", "/workflows/sleeper/run-nowait", Some(body)).await;
    assert_eq!(
        (status, answer),
        (StatusCode::CONFLICT, json!({"detail": "Handler 'mine' is already running"}))
    );
    assert_eq!(
        call(&app, "POST", "/handlers/mine/cancel", None).await,
        (StatusCode::OK, json!({"status": "cancelled"}))
    );
    let (status, cancelled) = call(&app, "GET", "/handlers/mine", None).await;
    assert_eq!(
        (status, cancelled["status"].as_str()),
        (StatusCode::INTERNAL_SERVER_ERROR, Some("cancelled"))
    );
    let again = r#"{"handler_id": "mine", "start_event": {"input": 1}}"#;
    let (status, reused) = call(&app, "POST", "/workflows/sleeper/run", Some(again)).await;
    assert_eq!(
        (status, reused["handler_id"].as_str(), reused["status"].as_str()),
        (StatusCode::OK, Some("mine"), Some("completed"))
    );
    let (_, list) = call(&app, "GET", "/handlers", None).await;
    assert_eq!(list["handlers"].as_array().unwrap().len(), 1, "one handler under the reused id");
}

#[tokio::test]
async fn handlers_results_cancel_and_purge() {
    let app = app();
    let (status, _) =
        call(&app, "POST", "/workflows/hitl/run-nowait", Some(r#"{"start_event": {"input": "x"}}"#)).await;
    assert_eq!(status, StatusCode::OK);
    let (_, greeting) = call(
        &app,
        "POST",
        "/workflows/greeting/run",
        Some(r#"{"start_event": {"greeting": "hi", "name": "Bo"}}"#),
    )
    .await;
    let id = greeting["handler_id"].as_str().unwrap();
    let (status, bare) = call(&app, "GET", &format!("/results/{id}"), None).await;
    assert_eq!((status, bare["result"].clone()), (StatusCode::OK, json!({"greeting": "hi Bo!!"})));
    let (_, list) =
        call(&app, "GET", "/handlers?status=completed&workflow_name=greeting&workflow_name=ticker", None)
            .await;
    assert!(list["handlers"]
        .as_array()
        .unwrap()
        .iter()
        .all(|h| h["workflow_name"] == "greeting" && h["status"] == "completed"));
    let (_, running) = call(&app, "GET", "/handlers?status=running", None).await;
    assert_eq!(running["handlers"].as_array().unwrap().len(), 1, "the hitl run waits for its answer");
    let (status, answer) = call(&app, "GET", "/handlers?status=sleeping", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(answer["detail"].as_str().unwrap().starts_with("Invalid status: sleeping"));
    for uri in ["/handlers/nope", "/results/nope"] {
        assert_eq!(
            call(&app, "GET", uri, None).await,
            (StatusCode::NOT_FOUND, json!({"detail": "Handler not found"}))
        );
    }
    assert_eq!(call(&app, "POST", "/handlers/nope/cancel", None).await.0, StatusCode::NOT_FOUND);
    let (status, _) = call(&app, "POST", &format!("/handlers/{id}/cancel"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "an ended run is not cancelled");
    let (status, deleted) = call(&app, "POST", &format!("/handlers/{id}/cancel?purge=TRUE"), None).await;
    assert_eq!((status, deleted), (StatusCode::OK, json!({"status": "deleted"})));
    assert_eq!(call(&app, "GET", &format!("/handlers/{id}"), None).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn sending_events_and_its_errors() {
    let app = app();
    let (_, handler) =
        call(&app, "POST", "/workflows/hitl/run-nowait", Some(r#"{"start_event": {"input": "tea"}}"#)).await;
    let id = handler["handler_id"].as_str().unwrap();
    let uri = format!("/events/{id}");
    let cases = [
        ("{}", "No event given"),
        (
            r#"{"event": {"type": "Nope", "value": {}}}"#,
            "Invalid event type: Nope. Expected one of StartEvent, Asked, Answered, StopEvent",
        ),
        (r#"{"event": {"type": "Answered", "value": {"answer": 5}}}"#, "invalid `Answered`"),
        (
            r#"{"event": {"type": "Asked", "value": {"question": "?"}}}"#,
            "workflow `Hitl` takes no `Asked` from the caller",
        ),
        (
            r#"{"event": {"type": "Answered", "value": {"answer": "a"}}, "step": "nope"}"#,
            "Step \"nope\" not found in workflow hitl",
        ),
    ];
    for (body, detail) in cases {
        let (status, answer) = call(&app, "POST", &uri, Some(body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        assert!(answer["detail"].as_str().unwrap().starts_with(detail), "{body}: {answer}");
    }
    assert_eq!(call(&app, "POST", "/events/nope", Some("{}")).await.0, StatusCode::NOT_FOUND);
    let answer = r#"{"event": "{\"type\": \"Answered\", \"data\": {\"answer\": \"yes\"}}"}"#;
    assert_eq!(call(&app, "POST", &uri, Some(answer)).await, (StatusCode::OK, json!({"status": "sent"})));
    let (_, stream) = raw(&app, "GET", &format!("{uri}?after_sequence=-1&sse=false"), None, &[]).await;
    assert!(
        stream.ends_with("\"value\":{\"result\":\"you said: yes\"}}\n") || stream.contains("you said: yes"),
        "{stream}"
    );
    assert_eq!(
        call(&app, "POST", &uri, Some(answer)).await,
        (StatusCode::CONFLICT, json!({"detail": "Workflow already completed"}))
    );
}

/// The ids and envelopes of an SSE body.
fn sse_events(body: &str) -> Vec<(u64, Value)> {
    body.split("\n\n")
        .filter(|block| !block.trim().is_empty() && !block.starts_with(':'))
        .map(|block| {
            let id = block.lines().find_map(|l| l.strip_prefix("id: ")).unwrap().parse().unwrap();
            let data = block.lines().find_map(|l| l.strip_prefix("data: ")).unwrap();
            (id, serde_json::from_str(data).unwrap())
        })
        .collect()
}

#[tokio::test]
async fn streams_resume_from_a_cursor_and_end_with_a_204() {
    let app = app();
    let (_, handler) =
        call(&app, "POST", "/workflows/ticker/run", Some(r#"{"start_event": {"input": 3}}"#)).await;
    let id = handler["handler_id"].as_str().unwrap();
    let uri = format!("/events/{id}");
    let (status, all) =
        raw(&app, "GET", &format!("{uri}?after_sequence=-1&include_internal=true"), None, &[]).await;
    assert_eq!(status, StatusCode::OK);
    let all = sse_events(&all);
    let ids: Vec<u64> = all.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids, (0..ids.len() as u64).collect::<Vec<_>>(), "dense numbers with the internal events");
    assert!(all
        .iter()
        .any(|(_, e)| e["type"] == "StepStateChanged" && e["value"]["step_state"] == "running"));
    assert_eq!(all.last().unwrap().1["type"], "StopEvent");

    let (_, visible) = raw(&app, "GET", &format!("{uri}?after_sequence=-1"), None, &[]).await;
    let visible = sse_events(&visible);
    assert_eq!(visible.iter().filter(|(_, e)| e["type"] == "Tick").count(), 3);
    assert!(visible.iter().all(|(_, e)| e["type"] != "StepStateChanged"), "internal events hidden");
    let second_tick = visible[1].0;
    let (_, rest) = raw(&app, "GET", &format!("{uri}?after_sequence={second_tick}"), None, &[]).await;
    let rest = sse_events(&rest);
    assert_eq!(rest.iter().map(|(_, e)| e["value"]["n"].clone()).collect::<Vec<_>>()[0], json!(2));
    let (_, resumed) = raw(
        &app,
        "GET",
        &format!("{uri}?after_sequence=-1"),
        None,
        &[("last-event-id", &second_tick.to_string())],
    )
    .await;
    assert_eq!(sse_events(&resumed).len(), rest.len(), "Last-Event-ID wins over after_sequence");

    let (_, ndjson) = raw(
        &app,
        "GET",
        &format!("{uri}?after_sequence=-1&sse=false&include_qualified_name=false"),
        None,
        &[],
    )
    .await;
    let lines: Vec<Value> = ndjson.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), visible.len());
    assert!(lines.iter().all(|l| l.get("qualified_name").is_none()));

    let (status, _) = raw(&app, "GET", &uri, None, &[]).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "ended, and nothing after `now`");
    for bad in ["x", "-2", "1.5"] {
        let (status, answer) = call(&app, "GET", &format!("{uri}?after_sequence={bad}"), None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(answer["detail"].as_str().unwrap().starts_with(&format!("Invalid after_sequence: {bad}")));
    }
    assert_eq!(call(&app, "GET", "/events/nope", None).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_open_stream_gets_heartbeats_and_the_events_as_they_come() {
    let app = flows::server().heartbeat(Duration::from_millis(30)).router();
    let (_, handler) =
        call(&app, "POST", "/workflows/ticker/run-nowait", Some(r#"{"start_event": {"input": 6}}"#)).await;
    let id = handler["handler_id"].as_str().unwrap();
    let (status, body) = raw(&app, "GET", &format!("/events/{id}?after_sequence=-1"), None, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains(": heartbeat\n\n"), "{body}");
    let events = sse_events(&body);
    assert_eq!(events.iter().filter(|(_, e)| e["type"] == "Tick").count(), 6);
    assert_eq!(events.last().unwrap().1["type"], "StopEvent", "the stream ends with the terminal event");
}

/// Two questions of two types: `HumanResponse<String>` and
/// `HumanResponse<bool>` must not share a title, since the debugger sends
/// the title back as the event's `type`.
#[derive(Default)]
struct Survey;

#[workflow_core::workflow]
impl Survey {
    #[workflow_core::step]
    async fn ask_name(&self, ev: workflow_core::StartEvent<()>) -> workflow_core::InputRequired<String> {
        let _ = ev;
        workflow_core::InputRequired::new("your name?".into())
    }

    #[workflow_core::step]
    async fn ask_sure(&self, ev: workflow_core::HumanResponse<String>) -> workflow_core::InputRequired<bool> {
        workflow_core::InputRequired::new(!ev.response.is_empty())
    }

    #[workflow_core::step]
    async fn done(&self, ev: workflow_core::HumanResponse<bool>) -> workflow_core::StopEvent<bool> {
        workflow_core::StopEvent::new(ev.response)
    }
}

#[tokio::test]
async fn two_answers_of_one_wrapper_have_two_titles_and_each_is_sent_by_it() {
    let app = workflow_server::Server::new().workflow(Survey).unwrap().router();
    let (_, events) = call(&app, "GET", "/workflows/Survey/events", None).await;
    let titles: Vec<&str> =
        events["events"].as_array().unwrap().iter().map(|e| e["title"].as_str().unwrap()).collect();
    assert_eq!(
        titles,
        [
            "StartEvent",
            "InputRequired_String",
            "HumanResponse_String",
            "InputRequired_bool",
            "HumanResponse_bool",
            "StopEvent"
        ]
    );
    let (_, handler) = call(&app, "POST", "/workflows/Survey/run-nowait", Some("{}")).await;
    let uri = format!("/events/{}", handler["handler_id"].as_str().unwrap());
    let name = r#"{"event": {"type": "HumanResponse_String", "value": {"response": "Ada"}}}"#;
    assert_eq!(call(&app, "POST", &uri, Some(name)).await.0, StatusCode::OK);
    let sure = r#"{"event": {"type": "HumanResponse_bool", "value": {"response": true}}}"#;
    assert_eq!(call(&app, "POST", &uri, Some(sure)).await.0, StatusCode::OK);
    let id = handler["handler_id"].as_str().unwrap();
    for _ in 0..200 {
        if call(&app, "GET", &format!("/handlers/{id}"), None).await.0 == StatusCode::OK {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let (_, stream) = raw(&app, "GET", &format!("{uri}?after_sequence=-1&sse=false"), None, &[]).await;
    assert!(
        stream.trim_end().ends_with(r#""types":null,"value":{"result":true}}"#)
            || stream.contains(r#"{"result":true}"#),
        "{stream}"
    );
}
