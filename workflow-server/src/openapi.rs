//! `GET /openapi.json`: the routes this server answers, written from the
//! same facts the routes use (the served workflows' names, the statuses,
//! the envelope and Handler shapes), as OpenAPI 3.0.

use serde_json::{json, Value};

fn error_response(description: &str) -> Value {
    json!({ "description": description, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } })
}

fn json_response(description: &str, schema: Value) -> Value {
    json!({ "description": description, "content": { "application/json": { "schema": schema } } })
}

fn handler_response(description: &str) -> Value {
    json_response(description, json!({ "$ref": "#/components/schemas/Handler" }))
}

fn path_param(name: &str, examples: &[&str]) -> Value {
    let mut param = json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } });
    if !examples.is_empty() {
        let named: serde_json::Map<String, Value> =
            examples.iter().map(|e| ((*e).to_owned(), json!({ "value": e }))).collect();
        param["examples"] = Value::Object(named);
    }
    param
}

fn query_param(name: &str, schema: Value) -> Value {
    json!({ "name": name, "in": "query", "required": false, "schema": schema })
}

fn flag(name: &str) -> Value {
    query_param(name, json!({ "type": "string", "example": "true" }))
}

/// The document, with `workflows` as the examples of workflow names.
pub(crate) fn document(workflows: &[&str], token: bool) -> Value {
    let name = || path_param("name", workflows);
    let id = || path_param("id", &[]);
    let unauthorized = token.then(|| error_response("no token, or a wrong one"));
    let guarded = |mut operation: Value| {
        if let Some(unauthorized) = &unauthorized {
            operation["responses"]["401"] = unauthorized.clone();
        }
        operation
    };
    let run_body = json!({
        "required": false,
        "content": { "application/json": { "schema": { "$ref": "#/components/schemas/RunRequest" } } }
    });
    let run_errors = |mut responses: Value| {
        responses["400"] = error_response("a body that is not a JSON object, or a bad start event");
        responses["404"] = error_response("no such workflow");
        responses["409"] = error_response("the handler id is running");
        responses["413"] = error_response("the body is too large");
        responses
    };
    let paths = json!({
        "/health": { "get": { "operationId": "health", "responses": {
            "200": json_response("the server is up", json!({ "type": "object", "required": ["status"], "properties": { "status": { "type": "string" } } }))
        } } },
        "/openapi.json": { "get": { "operationId": "openapi", "responses": {
            "200": json_response("this document", json!({ "type": "object" }))
        } } },
        "/workflows": { "get": guarded(json!({ "operationId": "list_workflows", "responses": {
            "200": json_response("the served workflows", json!({ "type": "object", "required": ["workflows"], "properties": { "workflows": { "type": "array", "items": { "type": "string" } } } }))
        } })) },
        "/workflows/{name}/schema": { "get": guarded(json!({ "operationId": "workflow_schema", "parameters": [name()], "responses": {
            "200": json_response("the start and stop events' JSON Schemas", json!({ "type": "object", "required": ["start", "stop"], "properties": { "start": { "type": "object" }, "stop": { "type": "object" } } })),
            "404": error_response("no such workflow")
        } })) },
        "/workflows/{name}/events": { "get": guarded(json!({ "operationId": "workflow_events", "parameters": [name()], "responses": {
            "200": json_response("every event type's JSON Schema", json!({ "type": "object", "required": ["events"], "properties": { "events": { "type": "array", "items": { "type": "object" } } } })),
            "404": error_response("no such workflow")
        } })) },
        "/workflows/{name}/representation": { "get": guarded(json!({ "operationId": "workflow_graph", "parameters": [name()], "responses": {
            "200": json_response("the graph", json!({ "type": "object", "required": ["graph"], "properties": { "graph": { "type": "object" } } })),
            "404": error_response("no such workflow")
        } })) },
        "/workflows/{name}/run": { "post": guarded(json!({ "operationId": "run", "parameters": [name()], "requestBody": run_body, "responses": run_errors(json!({
            "200": handler_response("the run completed"),
            "500": json_response("the run failed or was cancelled (its Handler), or the workflow cannot be built", json!({ "oneOf": [{ "$ref": "#/components/schemas/Handler" }, { "$ref": "#/components/schemas/Error" }] }))
        })) })) },
        "/workflows/{name}/run-nowait": { "post": guarded(json!({ "operationId": "run_nowait", "parameters": [name()], "requestBody": run_body, "responses": run_errors(json!({
            "200": handler_response("the run started"),
            "500": error_response("the workflow cannot be built")
        })) })) },
        "/handlers": { "get": guarded(json!({ "operationId": "list_handlers", "parameters": [
            { "name": "status", "in": "query", "required": false, "style": "form", "explode": true,
              "description": "an empty value is no filter (the Python client sends one)",
              "schema": { "type": "array", "items": { "type": "string", "enum": ["", "running", "completed", "failed", "cancelled"] } } },
            { "name": "workflow_name", "in": "query", "required": false, "style": "form", "explode": true,
              "schema": { "type": "array", "items": { "type": "string" } } }
        ], "responses": {
            "200": json_response("the handlers", json!({ "type": "object", "required": ["handlers"], "properties": { "handlers": { "type": "array", "items": { "$ref": "#/components/schemas/Handler" } } } })),
            "400": error_response("an unknown status")
        } })) },
        "/handlers/{id}": { "get": guarded(json!({ "operationId": "get_handler", "parameters": [id()], "responses": {
            "200": handler_response("completed"), "202": handler_response("running"),
            "500": handler_response("failed or cancelled"), "404": error_response("no such handler")
        } })) },
        "/results/{id}": { "get": guarded(json!({ "operationId": "get_result", "parameters": [id()], "responses": {
            "200": handler_response("completed (the result bare)"), "202": handler_response("running"),
            "500": handler_response("failed or cancelled"), "404": error_response("no such handler")
        } })) },
        "/handlers/{id}/cancel": { "post": guarded(json!({ "operationId": "cancel", "parameters": [id(), flag("purge")], "responses": {
            "200": json_response("cancelled, or deleted with purge", json!({ "type": "object", "required": ["status"], "properties": { "status": { "type": "string", "enum": ["cancelled", "deleted"] } } })),
            "404": error_response("no such handler, or ended and not purged")
        } })) },
        "/events/{id}": {
            "get": guarded(json!({ "operationId": "stream_events", "parameters": [
                id(), flag("sse"), flag("include_internal"), flag("include_qualified_name"),
                query_param("after_sequence", json!({ "type": "string", "example": "-1" }))
            ], "responses": {
                "200": { "description": "the events, to the terminal one",
                         "content": { "text/event-stream": { "schema": { "type": "string" } }, "application/x-ndjson": { "schema": { "type": "string" } } } },
                "204": { "description": "the run has ended and nothing is left after the cursor" },
                "400": error_response("a bad cursor"),
                "404": error_response("no such handler")
            } })),
            "post": guarded(json!({ "operationId": "send_event", "parameters": [id()],
                "requestBody": { "required": false, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/SendEventRequest" } } } },
                "responses": {
                    "200": json_response("sent", json!({ "type": "object", "required": ["status"], "properties": { "status": { "type": "string", "enum": ["sent"] } } })),
                    "400": error_response("no event, an unknown type, or bad data"),
                    "404": error_response("no such handler"),
                    "409": error_response("the run has ended"),
                    "413": error_response("the body is too large")
                } }))
        },
        "/login": {
            "get": { "operationId": "login_form", "responses": { "200": { "description": "the form", "content": { "text/html": { "schema": { "type": "string" } } } } } },
            "post": { "operationId": "login",
                "requestBody": { "required": false, "content": { "application/x-www-form-urlencoded": { "schema": { "type": "object", "properties": { "token": { "type": "string" } } } } } },
                "responses": {
                    "303": { "description": "logged in (or no token needed)" },
                    "400": error_response("no token field"),
                    "401": error_response("a wrong token")
                } }
        }
    });
    json!({
        "openapi": "3.0.3",
        "info": { "title": "workflow server", "version": env!("CARGO_PKG_VERSION"),
                  "description": "LlamaIndex's workflow-server protocol over Rust workflows." },
        "paths": paths,
        "components": { "schemas": {
            "Error": { "type": "object", "required": ["detail"], "properties": { "detail": { "type": "string" } } },
            "Envelope": { "type": "object", "required": ["value", "type"], "properties": {
                "value": {}, "qualified_name": { "type": "string", "nullable": true }, "type": { "type": "string" },
                "types": { "type": "array", "items": { "type": "string" }, "nullable": true } } },
            "Handler": { "type": "object",
                "required": ["handler_id", "workflow_name", "run_id", "error", "result", "result_unreadable", "status", "started_at", "updated_at", "completed_at"],
                "properties": {
                    "handler_id": { "type": "string" }, "workflow_name": { "type": "string" }, "run_id": { "type": "string" },
                    "error": { "type": "string", "nullable": true }, "result": { "nullable": true },
                    "result_unreadable": { "type": "boolean" },
                    "status": { "type": "string", "enum": ["running", "completed", "failed", "cancelled"] },
                    "started_at": { "type": "string" }, "updated_at": { "type": "string" },
                    "completed_at": { "type": "string", "nullable": true } } },
            "RunRequest": { "type": "object", "properties": {
                "start_event": { "nullable": true }, "handler_id": { "type": "string", "nullable": true },
                "kwargs": { "type": "object", "nullable": true }, "context": { "type": "object", "nullable": true } } },
            "SendEventRequest": { "type": "object", "properties": {
                "event": { "nullable": true }, "step": { "type": "string", "nullable": true } } }
        } }
    })
}
