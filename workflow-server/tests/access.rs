//! The token (header, cookie, login form, one-time link) and the CORS
//! rules with and without it.

mod flows;

use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use tower::ServiceExt;

struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

async fn send(app: &Router, method: &str, uri: &str, headers: &[(&str, &str)], body: &str) -> Answer {
    let mut request = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = tokio::time::timeout(
        Duration::from_secs(10),
        app.clone().oneshot(request.body(Body::from(body.to_owned())).unwrap()),
    )
    .await
    .unwrap()
    .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body =
        String::from_utf8_lossy(&response.into_body().collect().await.unwrap().to_bytes()).into_owned();
    Answer { status, headers, body }
}

fn guarded() -> Router {
    flows::server().token(Some("s3cret".into())).allow_origins(["https://app.example".to_string()]).router()
}

#[tokio::test]
async fn without_a_token_anyone_may_call_and_any_origin_is_echoed_with_credentials() {
    let app = flows::server().router();
    assert_eq!(send(&app, "GET", "/workflows", &[], "").await.status, StatusCode::OK);
    let preflight = send(
        &app,
        "OPTIONS",
        "/workflows",
        &[
            ("origin", "https://anywhere.example"),
            ("access-control-request-method", "POST"),
            ("access-control-request-headers", "content-type"),
        ],
        "",
    )
    .await;
    assert_eq!(preflight.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "https://anywhere.example");
    assert_eq!(preflight.headers[header::ACCESS_CONTROL_ALLOW_CREDENTIALS], "true");
    let simple = send(&app, "GET", "/health", &[("origin", "http://localhost:5173")], "").await;
    assert_eq!(simple.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "http://localhost:5173");
}

#[tokio::test]
async fn with_a_token_every_route_but_the_open_ones_asks_for_it() {
    let app = guarded();
    assert_eq!(send(&app, "GET", "/health", &[], "").await.status, StatusCode::OK);
    let missing = send(&app, "GET", "/workflows", &[], "").await;
    assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
    assert!(missing.body.contains("needs a token"), "{}", missing.body);
    let wrong = send(&app, "GET", "/workflows", &[("authorization", "Bearer nope")], "").await;
    assert_eq!(
        (wrong.status, wrong.body.as_str()),
        (StatusCode::UNAUTHORIZED, r#"{"detail":"Invalid token"}"#)
    );
    assert_eq!(
        send(&app, "GET", "/workflows", &[("authorization", "Bearer s3cret")], "").await.status,
        StatusCode::OK
    );
    let cookie = "theme=dark; workflow_token=s3cret";
    assert_eq!(send(&app, "GET", "/workflows", &[("cookie", cookie)], "").await.status, StatusCode::OK);
    let stale = send(&app, "GET", "/workflows", &[("cookie", "workflow_token=old")], "").await;
    assert_eq!(stale.status, StatusCode::UNAUTHORIZED);
    let run = send(
        &app,
        "POST",
        "/workflows/greeting/run",
        &[],
        r#"{"start_event": {"greeting": "hi", "name": "Ada"}}"#,
    )
    .await;
    assert_eq!(run.status, StatusCode::UNAUTHORIZED, "runs too");
}

#[tokio::test]
async fn a_one_time_link_and_the_login_form_set_an_http_only_cookie() {
    let app = guarded();
    let link = send(&app, "GET", "/events/abc?token=s3cret&sse=true", &[], "").await;
    assert_eq!(link.status, StatusCode::SEE_OTHER);
    assert_eq!(link.headers[header::LOCATION], "/events/abc?sse=true", "the token leaves the address");
    let cookie = link.headers[header::SET_COOKIE].to_str().unwrap();
    assert!(
        cookie.starts_with("workflow_token=s3cret;")
            && cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert_eq!(send(&app, "GET", "/handlers?token=nope", &[], "").await.status, StatusCode::UNAUTHORIZED);
    // Characters no header carries stay encoded in the redirect (no panic, no header injection).
    let tricky = send(&app, "GET", "/handlers?token=s3cret&x=%0D%0ASet-Cookie:%20a=b", &[], "").await;
    assert_eq!(tricky.status, StatusCode::SEE_OTHER);
    assert_eq!(tricky.headers[header::LOCATION], "/handlers?x=%0D%0ASet-Cookie:%20a=b");
    assert_eq!(tricky.headers.get_all(header::SET_COOKIE).iter().count(), 1);

    let form = send(&app, "GET", "/login", &[], "").await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.body.contains("<form method=\"post\""));
    let form_type = ("content-type", "application/x-www-form-urlencoded");
    let login = send(&app, "POST", "/login", &[form_type], "token=s3cret").await;
    assert_eq!(login.status, StatusCode::SEE_OTHER);
    assert!(login.headers[header::SET_COOKIE].to_str().unwrap().contains("HttpOnly"));
    assert_eq!(
        send(&app, "POST", "/login", &[form_type], "token=nope").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(send(&app, "POST", "/login", &[form_type], "name=x").await.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn with_a_token_only_the_configured_origins_get_cors_headers() {
    let app = guarded();
    let preflight = |origin: &'static str| {
        let app = app.clone();
        async move {
            send(
                &app,
                "OPTIONS",
                "/workflows",
                &[("origin", origin), ("access-control-request-method", "GET")],
                "",
            )
            .await
        }
    };
    let allowed = preflight("https://app.example").await;
    assert_eq!(allowed.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "https://app.example");
    assert_eq!(allowed.headers[header::ACCESS_CONTROL_ALLOW_CREDENTIALS], "true");
    let other = preflight("https://evil.example").await;
    assert!(other.headers.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none(), "{:?}", other.headers);
}

#[tokio::test]
async fn the_openapi_document_lists_every_route_and_is_open() {
    let app = guarded();
    let answer = send(&app, "GET", "/openapi.json", &[], "").await;
    assert_eq!(answer.status, StatusCode::OK);
    let document: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
    assert_eq!(document["openapi"], "3.0.3");
    let paths: Vec<&str> = document["paths"].as_object().unwrap().keys().map(String::as_str).collect();
    for path in [
        "/health",
        "/workflows",
        "/workflows/{name}/run",
        "/handlers/{id}/cancel",
        "/events/{id}",
        "/results/{id}",
    ] {
        assert!(paths.contains(&path), "{path} in {paths:?}");
    }
    assert!(
        document["paths"]["/workflows"]["get"]["responses"]["401"].is_object(),
        "with a token, 401 is documented"
    );
    let examples = &document["paths"]["/workflows/{name}/run"]["post"]["parameters"][0]["examples"];
    assert!(examples["greeting"].is_object(), "the served workflows are the name's examples: {examples}");
}
