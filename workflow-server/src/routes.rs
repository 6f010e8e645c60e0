//! The protocol's routes: what each reads, and what it answers.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Map, Value};
use workflow_core::registry::{SendJsonError, StartError};

use crate::app::App;
use crate::error::{self, ApiError};
use crate::request::{flag, query_pairs, read_json, Param};
use crate::runs::{Run, Served, StartFailure, Status};
use crate::stream;

pub(crate) fn router(state: App) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/workflows", get(workflows))
        .route("/workflows/{name}/schema", get(schema))
        .route("/workflows/{name}/events", get(event_schemas))
        .route("/workflows/{name}/representation", get(representation))
        .route("/workflows/{name}/run", post(run))
        .route("/workflows/{name}/run-nowait", post(run_nowait))
        .route("/handlers", get(handlers))
        .route("/handlers/{id}", get(handler))
        .route("/results/{id}", get(results))
        .route("/handlers/{id}/cancel", post(cancel))
        .route("/events/{id}", get(stream::events).post(send_event))
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .with_state(state)
}

async fn health() -> Json<Value> {
    Json(json!({ "status": "healthy" }))
}

async fn workflows(State(app): State<App>) -> Json<Value> {
    Json(json!({ "workflows": app.served.iter().map(|s| s.name.as_str()).collect::<Vec<_>>() }))
}

/// The schema of one of `served`'s event types, as its envelope value.
fn event_schema(served: &Served, key: &str) -> Value {
    let raw = served.schemas.iter().find(|(k, _)| *k == key).map(|(_, s)| s.clone()).unwrap_or(json!({}));
    match served.envelopes.kind(key) {
        Some(kind) => served.envelopes.schema(kind, &raw),
        None => raw,
    }
}

async fn schema(State(app): State<App>, Param(name): Param) -> Result<Json<Value>, ApiError> {
    let served = app.workflow(&name)?;
    Ok(Json(json!({
        "start": event_schema(served, served.info.start),
        "stop": event_schema(served, served.info.stop),
    })))
}

async fn event_schemas(State(app): State<App>, Param(name): Param) -> Result<Json<Value>, ApiError> {
    let served = app.workflow(&name)?;
    let events: Vec<Value> = served.info.events.iter().map(|key| event_schema(served, key)).collect();
    Ok(Json(json!({ "events": events })))
}

/// The graph as LlamaIndex's server draws it: steps and events as nodes,
/// an `external_step` node for the caller if the workflow asks for input.
async fn representation(State(app): State<App>, Param(name): Param) -> Result<Json<Value>, ApiError> {
    let served = app.workflow(&name)?;
    let info = served.info;
    let envelopes = &served.envelopes;
    let type_of = |key: &str| envelopes.kind(key).map_or_else(|| key.to_owned(), |k| k.name.clone());
    let mut nodes = Vec::new();
    let mut edges = Vec::new();
    for step in info.steps {
        nodes.push(json!({ "id": step.name, "label": step.name, "node_type": "step", "description": null }));
        for event in step.accepts {
            edges.push(json!({ "source": type_of(event), "target": step.name, "label": null }));
        }
        for event in step.emits {
            edges.push(json!({ "source": step.name, "target": type_of(event), "label": null }));
        }
    }
    for key in info.events {
        let kind = envelopes.kind(key);
        let name = type_of(key);
        let mut types = vec![name.clone()];
        types.extend(kind.and_then(|k| k.types.clone()).unwrap_or_default().into_iter().map(str::to_owned));
        let produced_by: Vec<&str> = info
            .steps
            .iter()
            .filter(|s| s.emits.contains(key) || s.streams.contains(key))
            .map(|s| s.name)
            .collect();
        nodes.push(json!({
            "id": name, "label": name, "node_type": "event", "description": null,
            "event_type": name, "event_types": types, "event_schema": event_schema(served, key),
            "produced_by": produced_by,
        }));
    }
    if !info.requests.is_empty() || !info.answers.is_empty() {
        nodes.push(json!({ "id": "external_step", "label": "external_step", "node_type": "external", "description": null }));
        for key in info.requests {
            edges.push(json!({ "source": type_of(key), "target": "external_step", "label": null }));
        }
        for key in info.answers.iter().filter(|k| **k != "StepFailed") {
            edges.push(json!({ "source": "external_step", "target": type_of(key), "label": null }));
        }
    }
    Ok(Json(json!({ "graph": { "name": served.name, "description": null, "nodes": nodes, "edges": edges } })))
}

/// Reads a run body and starts the run.
async fn start(app: &App, name: &str, body: Body) -> Result<Arc<Run>, ApiError> {
    let served = app.workflow(name)?;
    let body = read_json(body, app.body_limit).await?;
    let Value::Object(body) = body else {
        return Err(ApiError::bad_request("The request body must be a JSON object"));
    };
    if let Some(context) = body.get("context") {
        if !matches!(context, Value::Null) && context.as_object().is_none_or(|c| !c.is_empty()) {
            return Err(ApiError::bad_request(
                "Starting from a given context is not supported by this server",
            ));
        }
    }
    if body.get("kwargs").is_some_and(|k| !k.is_null() && !k.is_object()) {
        return Err(ApiError::bad_request("kwargs must be a JSON object"));
    }
    let handler_id = match body.get("handler_id") {
        None | Some(Value::Null) => None,
        Some(Value::String(id)) => Some(id.clone()),
        Some(_) => return Err(ApiError::bad_request("handler_id must be a string")),
    };
    if let Some(id) = &handler_id {
        if app.runs.get(id).is_some_and(|r| r.status() == Status::Running) {
            return Err(ApiError::conflict(format!("Handler '{id}' is already running")));
        }
    }
    let input = start_input(served, &body)?;
    app.runs.start(served, input, handler_id).map_err(|e| match e {
        StartFailure::Start(e @ StartError::InvalidInput { .. }) => ApiError::bad_request(e.to_string()),
        other => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, other.to_string()),
    })
}

/// The run's input (the start event's payload) from `start_event`, else
/// `kwargs`, else the default start event (a null payload).
fn start_input(served: &Served, body: &Map<String, Value>) -> Result<Value, ApiError> {
    let given = match body.get("start_event") {
        Some(Value::Null) => return Ok(Value::Null),
        Some(event) => event.clone(),
        None => match body.get("kwargs") {
            None | Some(Value::Null) => return Ok(Value::Null),
            Some(kwargs) => kwargs.clone(),
        },
    };
    let envelopes = &served.envelopes;
    let start = envelopes.start();
    let (key, data) =
        envelopes.decode(&given, Some(start)).map_err(|e| ApiError::bad_request(e.to_string()))?;
    if key != start.key {
        return Err(ApiError::bad_request(format!(
            "Invalid start event type: {}. Expected {}",
            envelopes.kind(key).map_or(key, |k| k.name.as_str()),
            start.name
        )));
    }
    let wrapped = key.split('<').next().is_some_and(|outer| outer.rsplit("::").next() == Some("StartEvent"));
    Ok(if wrapped && key.contains('<') { data.get("input").cloned().unwrap_or(Value::Null) } else { data })
}

/// Waits until `run` has ended, or the server's drain deadline.
async fn ended(app: &App, run: &Run) {
    let mut watch = run.watch();
    let waiting = async {
        while !run.is_ended() {
            if watch.changed().await.is_err() {
                break;
            }
        }
    };
    tokio::select! {
        () = waiting => {}
        () = app.shutdown.closed() => {}
    }
}

/// A Handler record with the status code of its status.
fn record_response(run: &Run, bare: bool) -> Response {
    let code = match run.status() {
        Status::Completed => StatusCode::OK,
        Status::Running => StatusCode::ACCEPTED,
        Status::Failed | Status::Cancelled => StatusCode::INTERNAL_SERVER_ERROR,
    };
    (code, Json(run.record(bare))).into_response()
}

async fn run(State(app): State<App>, Param(name): Param, body: Body) -> Result<Response, ApiError> {
    let run = start(&app, &name, body).await?;
    ended(&app, &run).await;
    Ok(record_response(&run, false))
}

async fn run_nowait(State(app): State<App>, Param(name): Param, body: Body) -> Result<Json<Value>, ApiError> {
    let run = start(&app, &name, body).await?;
    Ok(Json(run.record(false)))
}

async fn handlers(State(app): State<App>, RawQuery(query): RawQuery) -> Result<Json<Value>, ApiError> {
    let pairs = query_pairs(query.as_deref());
    let mut statuses = Vec::new();
    // Clients send an empty value for a filter they do not use.
    for (_, value) in pairs.iter().filter(|(k, v)| k == "status" && !v.is_empty()) {
        statuses.push(Status::from_name(value).ok_or_else(|| {
            ApiError::bad_request(format!(
                "Invalid status: {value}. Expected one of running, completed, failed, cancelled"
            ))
        })?);
    }
    let names: Vec<&str> = pairs
        .iter()
        .filter(|(k, v)| k == "workflow_name" && !v.is_empty())
        .map(|(_, v)| v.as_str())
        .collect();
    let list: Vec<Value> = app
        .runs
        .all()
        .into_iter()
        .filter(|r| statuses.is_empty() || statuses.contains(&r.status()))
        .filter(|r| names.is_empty() || names.contains(&r.served.name.as_str()))
        .map(|r| r.record(false))
        .collect();
    Ok(Json(json!({ "handlers": list })))
}

async fn handler(State(app): State<App>, Param(id): Param) -> Result<Response, ApiError> {
    let run = app.run(&id)?;
    Ok(record_response(&run, false))
}

async fn results(State(app): State<App>, Param(id): Param) -> Result<Response, ApiError> {
    let run = app.run(&id)?;
    Ok(record_response(&run, true))
}

async fn cancel(
    State(app): State<App>,
    Param(id): Param,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let purge = flag(&query_pairs(query.as_deref()), "purge", false);
    let run = app.run(&id)?;
    if run.status() == Status::Running {
        run.cancel(|run| app.reload(run));
        // Answer once the run has ended, so that what the caller reads next is final.
        let _ = tokio::time::timeout(Duration::from_secs(10), ended(&app, &run)).await;
    } else if !purge {
        return Err(ApiError::not_found("Handler not found or already completed"));
    }
    if purge {
        app.runs.remove(&id);
        return Ok(Json(json!({ "status": "deleted" })));
    }
    Ok(Json(json!({ "status": "cancelled" })))
}

async fn send_event(State(app): State<App>, Param(id): Param, body: Body) -> Result<Json<Value>, ApiError> {
    let run = app.run(&id)?;
    let body = read_json(body, app.body_limit).await?;
    if run.status() != Status::Running {
        return Err(ApiError::conflict("Workflow already completed"));
    }
    let event = body.get("event").cloned().unwrap_or(Value::Null);
    if let Some(step) = body.get("step").filter(|s| !s.is_null()) {
        let known = step.as_str().is_some_and(|s| run.served.info.steps.iter().any(|i| i.name == s));
        if !known {
            return Err(ApiError::bad_request(format!(
                "Step {step} not found in workflow {}",
                run.served.name
            )));
        }
    }
    let (key, data) =
        run.served.envelopes.decode(&event, None).map_err(|e| ApiError::bad_request(e.to_string()))?;
    run.send(key, data, |run| app.reload(run)).await.map_err(|e| match e {
        SendJsonError::Send(_) => ApiError::conflict("Workflow already completed"),
        other => ApiError::bad_request(other.to_string()),
    })?;
    Ok(Json(json!({ "status": "sent" })))
}
