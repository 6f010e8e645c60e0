//! The pages' routes: the debugger's page and files, the viewer's files and
//! its diagrams, and their error paths. The pages themselves are driven in
//! headless Chromium by `scripts/check-ui`.

mod flows;

use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use tower::ServiceExt;

async fn get(app: &Router, uri: &str) -> (StatusCode, Option<String>, String) {
    let request = Request::builder().uri(uri).body(Body::empty()).unwrap();
    let response = tokio::time::timeout(Duration::from_secs(10), app.clone().oneshot(request))
        .await
        .expect("the route answers")
        .unwrap();
    let status = response.status();
    let kind = response.headers().get(header::CONTENT_TYPE).map(|v| v.to_str().unwrap().to_owned());
    let location = response.headers().get(header::LOCATION).map(|v| v.to_str().unwrap().to_owned());
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = String::from_utf8_lossy(&bytes).into_owned();
    (status, location.or(kind), body)
}

#[tokio::test]
async fn the_debugger_page_loads_its_bundle_from_the_cdn_by_default() {
    let app = flows::ui_server().router();
    let (status, kind, page) = get(&app, "/").await;
    assert_eq!((status, kind.as_deref()), (StatusCode::OK, Some("text/html; charset=utf-8")));
    assert!(
        page.contains("https://cdn.jsdelivr.net/npm/@llamaindex/workflow-debugger@0.2.42/dist"),
        "{page}"
    );
    assert!(page.contains("query.set('api', location.origin + base)"), "{page}");
    let (status, _, body) = get(&app, "/debugger/app.js").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains("loaded from its CDN"), "{body}");
}

#[tokio::test]
async fn with_a_ui_dir_the_debugger_files_come_from_it_and_nothing_else_does() {
    let dir = std::env::temp_dir().join(format!("workflow-ui-dir-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("package/dist")).unwrap();
    std::fs::write(dir.join("package/dist/app.js"), "console.log('debugger')").unwrap();
    std::fs::write(dir.join("secret.txt"), "no").unwrap();
    let app = flows::ui_server().ui_dir(Some(dir.clone())).router();
    let (_, _, page) = get(&app, "/").await;
    assert!(page.contains("base + '/debugger'") && !page.contains("cdn.jsdelivr"), "{page}");
    let (status, kind, body) = get(&app, "/debugger/app.js").await;
    assert_eq!(
        (status, kind.as_deref(), body.as_str()),
        (StatusCode::OK, Some("text/javascript; charset=utf-8"), "console.log('debugger')")
    );
    // A file the directory lacks names what fills it; other names are unknown.
    let (status, _, body) = get(&app, "/debugger/app.css").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains("npm pack @llamaindex/workflow-debugger@0.2.42"), "{body}");
    for path in ["/debugger/secret.txt", "/debugger/..%2Fsecret.txt", "/debugger/%2E%2E"] {
        let (status, _, _) = get(&app, path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
}

#[tokio::test]
async fn the_viewer_is_served_beside_its_files_and_draws_each_workflow() {
    let app = flows::ui_server().router();
    let (status, location, _) = get(&app, "/ui").await;
    assert_eq!((status, location.as_deref()), (StatusCode::PERMANENT_REDIRECT, Some("ui/")));
    let (status, kind, page) = get(&app, "/ui/").await;
    assert_eq!((status, kind.as_deref()), (StatusCode::OK, Some("text/html; charset=utf-8")));
    assert!(
        page.contains("src=\"viewer.js\"") && !page.contains("http"),
        "the page names only its own files"
    );
    let (status, kind, _) = get(&app, "/ui/viewer.js").await;
    assert_eq!((status, kind.as_deref()), (StatusCode::OK, Some("text/javascript; charset=utf-8")));
    let (status, kind, _) = get(&app, "/ui/viewer.css").await;
    assert_eq!((status, kind.as_deref()), (StatusCode::OK, Some("text/css; charset=utf-8")));
    let (status, kind, svg) = get(&app, "/ui/diagram/approval").await;
    assert_eq!((status, kind.as_deref()), (StatusCode::OK, Some("image/svg+xml; charset=utf-8")));
    assert!(svg.starts_with("<svg class=\"workflow-graph\"") && svg.contains(">review<"), "{svg}");
    let (status, _, body) = get(&app, "/ui/diagram/nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains("Workflow 'nope' not found"), "{body}");
}
