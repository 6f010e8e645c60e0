//! `GET /events/{id}`: a run's log from a cursor on, as SSE (with `id:`
//! lines and heartbeats) or NDJSON, open until the terminal event.

use std::convert::Infallible;

use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::app::App;
use crate::error::ApiError;
use crate::request::{flag, query_pairs, Param};
use crate::runs::Logged;

/// Where a reader starts: after this sequence (`None`: from the start).
fn cursor(
    pairs: &[(String, String)],
    headers: &HeaderMap,
    sse: bool,
    last: Option<u64>,
) -> Result<Option<u64>, ApiError> {
    let bad = |text: &str| {
        ApiError::bad_request(format!("Invalid after_sequence: {text}. Give an integer, -1 or now"))
    };
    let given = headers
        .get("last-event-id")
        .filter(|_| sse)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| pairs.iter().rev().find(|(k, _)| k == "after_sequence").map(|(_, v)| v.clone()));
    match given.as_deref().map(str::trim) {
        None | Some("now") => Ok(last),
        Some(text) => match text.parse::<i64>() {
            Ok(-1) => Ok(None),
            Ok(n) if n >= 0 => Ok(Some(n as u64)),
            _ => Err(bad(text)),
        },
    }
}

fn line(event: &Logged, sse: bool, qualified: bool) -> Bytes {
    let json = if qualified {
        event.envelope.to_string()
    } else {
        let mut envelope: Value = serde_json::from_str(&event.envelope).unwrap_or(Value::Null);
        if let Value::Object(map) = &mut envelope {
            map.remove("qualified_name");
        }
        envelope.to_string()
    };
    Bytes::from(if sse { format!("id: {}\ndata: {json}\n\n", event.sequence) } else { format!("{json}\n") })
}

pub(crate) async fn events(
    State(app): State<App>,
    Param(id): Param,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let run = app.run(&id)?;
    let pairs = query_pairs(query.as_deref());
    let sse = flag(&pairs, "sse", true);
    let internal = flag(&pairs, "include_internal", false);
    let qualified = flag(&pairs, "include_qualified_name", true);
    let mut cursor = cursor(&pairs, &headers, sse, run.last_sequence())?;
    let (first, ended) = run.events_after(cursor, internal);
    if ended && first.is_empty() {
        return Ok(
            (StatusCode::NO_CONTENT, Json(json!({ "detail": "Handler is completed" }))).into_response()
        );
    }
    let (send, receive) = mpsc::channel::<Bytes>(64);
    let heartbeat = app.heartbeat;
    // A task writes the stream; it stops when the reader goes (the send fails).
    tokio::spawn(async move {
        let mut watch = run.watch();
        let mut beat = tokio::time::interval_at(tokio::time::Instant::now() + heartbeat, heartbeat);
        loop {
            let (events, ended) = run.events_after(cursor, internal);
            for event in &events {
                if send.send(line(event, sse, qualified)).await.is_err() {
                    return;
                }
                cursor = Some(event.sequence);
            }
            if ended {
                // Everything up to the terminal event is written (an
                // event logged after the snapshot above was taken would be
                // in `events` the next time round, but nothing follows the end).
                let (rest, _) = run.events_after(cursor, internal);
                if rest.is_empty() {
                    return;
                }
                continue;
            }
            tokio::select! {
                changed = watch.changed() => if changed.is_err() { return },
                // The server is shutting down: the reader reconnects to
                // the next one with its last id.
                () = app.shutdown.closed() => return,
                _ = beat.tick(), if sse => {
                    if send.send(Bytes::from_static(b": heartbeat\n\n")).await.is_err() {
                        return;
                    }
                }
            }
        }
    });
    let body = Body::from_stream(futures::stream::unfold(receive, |mut receive| async move {
        receive.recv().await.map(|bytes| (Ok::<_, Infallible>(bytes), receive))
    }));
    let content_type = if sse { "text/event-stream; charset=utf-8" } else { "application/x-ndjson" };
    Ok(([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "no-cache")], body).into_response())
}
