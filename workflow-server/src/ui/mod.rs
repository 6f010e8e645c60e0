//! Pages for people: LlamaIndex's debugger at `/` (its page, loading the
//! `@llamaindex/workflow-debugger` bundle from its CDN, or from a local
//! directory given with `ui_dir`), and our own run viewer at `/ui`: plain
//! HTML, CSS and a small script, served from the binary, that load nothing
//! from anywhere but this server.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::app::App;
use crate::error::ApiError;
use crate::request::Param;

/// The debugger version the page loads from the CDN, as LlamaIndex's server 0.8.0 does.
pub(crate) const DEBUGGER_VERSION: &str = "0.2.42";

pub(crate) fn router(app: App) -> Router {
    Router::new()
        .route("/", get(debugger_page))
        .route("/debugger/{file}", get(debugger_file))
        // The page is at `ui/`, so that its files resolve beside it under any base path.
        .route("/ui", get(|| async { (StatusCode::PERMANENT_REDIRECT, [(header::LOCATION, "ui/")]) }))
        .route("/ui/", get(|| async { page("text/html; charset=utf-8", include_str!("viewer.html")) }))
        .route(
            "/ui/viewer.js",
            get(|| async { page("text/javascript; charset=utf-8", include_str!("viewer.js")) }),
        )
        .route(
            "/ui/viewer.css",
            get(|| async { page("text/css; charset=utf-8", include_str!("viewer.css")) }),
        )
        .route("/ui/diagram/{name}", get(diagram))
        .with_state(app)
}

fn page(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "no-cache")], body).into_response()
}

/// The debugger's page. The debugger reads its API's address from `?api=`
/// (else it takes the page's origin, which is wrong under a base path): the
/// page adds it, this server's address with its base path, and only then
/// loads the bundle, from the CDN or from `debugger/` under the base path.
async fn debugger_page(State(app): State<App>) -> Response {
    let assets = match &app.debugger_dir {
        None => {
            format!("'https://cdn.jsdelivr.net/npm/@llamaindex/workflow-debugger@{DEBUGGER_VERSION}/dist'")
        }
        Some(_) => "base + '/debugger'".to_owned(),
    };
    let html = include_str!("debugger.html").replace("ASSETS", &assets);
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CACHE_CONTROL, "no-cache")], html)
        .into_response()
}

/// `app.js` or `app.css` from the debugger's directory; nothing else.
async fn debugger_file(State(app): State<App>, Param(file): Param) -> Result<Response, ApiError> {
    let content_type = match file.as_str() {
        "app.js" => "text/javascript; charset=utf-8",
        "app.css" => "text/css; charset=utf-8",
        _ => return Err(ApiError::not_found("Not Found")),
    };
    let Some(dir) = &app.debugger_dir else {
        return Err(ApiError::not_found(
            "The debugger is loaded from its CDN; start the server with a UI directory to serve it",
        ));
    };
    for place in [dir.join(&file), dir.join("dist").join(&file), dir.join("package/dist").join(&file)] {
        if let Ok(bytes) = tokio::fs::read(&place).await {
            return Ok(([(header::CONTENT_TYPE, content_type)], bytes).into_response());
        }
    }
    Err(ApiError::new(
        StatusCode::NOT_FOUND,
        format!(
            "{file} is not in {} (fill it with `npm pack @llamaindex/workflow-debugger@{DEBUGGER_VERSION}` and unpack it there)",
            dir.display()
        ),
    ))
}

/// The workflow's graph as the macro draws it, for the viewer.
async fn diagram(State(app): State<App>, Param(name): Param) -> Result<Response, ApiError> {
    let served = app.workflow(&name)?;
    let svg = served.info.graph().svg(None);
    Ok(([(header::CONTENT_TYPE, "image/svg+xml; charset=utf-8")], svg).into_response())
}
