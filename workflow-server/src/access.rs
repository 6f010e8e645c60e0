//! Who may call the server: an optional bearer token, and the CORS rules
//! that go with it.
//!
//! Without a token the server answers anyone who reaches it (it binds to
//! 127.0.0.1 unless told otherwise) and, as LlamaIndex's does, echoes the
//! request's `Origin` with credentials allowed, so that the debugger works
//! from any page. With a token, every route but `/health`, `/openapi.json`
//! and `/login` asks for it, in an `Authorization: Bearer` header or, for
//! the debugger's `EventSource` (which cannot send headers), in an HttpOnly
//! cookie set by the `/login` form or a one-time `?token=` link; and CORS
//! allows only the configured origins, so that the cookie is no cross-site
//! hole.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer};

use crate::error::ApiError;
use crate::request::query_pairs;

/// The cookie the token is kept in.
pub(crate) const COOKIE: &str = "workflow_token";

/// The access rules.
#[derive(Clone, Debug, Default)]
pub(crate) struct Access {
    pub(crate) token: Option<Arc<str>>,
    /// With a token: the origins (scheme://host:port) that may call from a browser.
    pub(crate) origins: Vec<String>,
}

/// Routes anyone may call.
fn is_open(path: &str) -> bool {
    matches!(path, "/health" | "/openapi.json" | "/login")
}

/// Equal, in a time that does not depend on where they differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_owned())
}

fn set_cookie(token: &str) -> (header::HeaderName, String) {
    (header::SET_COOKIE, format!("{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/"))
}

/// Checks the token on every request that needs it; turns a valid
/// `?token=` into the cookie and a redirect to the same address without it.
pub(crate) async fn guard(State(access): State<Access>, request: Request, next: Next) -> Response {
    let Some(token) = access.token.clone() else { return next.run(request).await };
    if request.method() == Method::OPTIONS || is_open(request.uri().path()) {
        return next.run(request).await;
    }
    let pairs = query_pairs(request.uri().query());
    if let Some((_, given)) = pairs.iter().find(|(k, _)| k == "token") {
        if !same(given.as_bytes(), token.as_bytes()) {
            return ApiError::new(StatusCode::UNAUTHORIZED, "Invalid token").into_response();
        }
        // The rest of the query as it came, still encoded: decoded text may
        // hold characters no header can carry (a `%0A`).
        let raw = request.uri().query().unwrap_or_default();
        let rest: Vec<&str> = raw
            .split('&')
            .filter(|part| {
                !part.is_empty() && query_pairs(Some(part)).first().is_none_or(|(k, _)| k != "token")
            })
            .collect();
        // Under a base path (`Router::nest`), the address the client asked for.
        let original = request.extensions().get::<axum::extract::OriginalUri>().map(|o| o.0.clone());
        let path = original.as_ref().map_or_else(|| request.uri().path(), |uri| uri.path());
        let target = if rest.is_empty() { path.to_owned() } else { format!("{path}?{}", rest.join("&")) };
        return match HeaderValue::try_from(target) {
            Ok(location) => {
                let cookie = set_cookie(&token);
                (
                    StatusCode::SEE_OTHER,
                    [(cookie.0, HeaderValue::try_from(cookie.1).unwrap_or(HeaderValue::from_static("")))],
                    [(header::LOCATION, location)],
                )
                    .into_response()
            }
            Err(_) => ApiError::bad_request("The address cannot be redirected to").into_response(),
        };
    }
    let bearer = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    match bearer.or_else(|| cookie_token(request.headers())) {
        Some(given) if same(given.trim().as_bytes(), token.as_bytes()) => next.run(request).await,
        Some(_) => ApiError::new(StatusCode::UNAUTHORIZED, "Invalid token").into_response(),
        None => ApiError::new(
            StatusCode::UNAUTHORIZED,
            "This server needs a token: send `Authorization: Bearer <token>`, or log in at /login",
        )
        .into_response(),
    }
}

/// `GET /login`: a form that asks for the token.
pub(crate) async fn login_form() -> Html<&'static str> {
    Html(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Log in</title></head><body>\
         <form method=\"post\" action=\"login\"><label>Token <input type=\"password\" name=\"token\" autofocus></label> \
         <button>Log in</button></form></body></html>",
    )
}

/// `POST /login`: the form's token, kept in the cookie if it is right.
pub(crate) async fn login(State(access): State<Access>, body: axum::body::Bytes) -> Response {
    let form = std::str::from_utf8(&body).unwrap_or_default();
    let given = query_pairs(Some(form)).into_iter().find(|(k, _)| k == "token").map(|(_, v)| v);
    match (&access.token, given) {
        (None, _) => Redirect::to("./").into_response(),
        (Some(token), Some(given)) if same(given.as_bytes(), token.as_bytes()) => {
            ([set_cookie(token)], Redirect::to("./")).into_response()
        }
        (Some(_), Some(_)) => ApiError::new(StatusCode::UNAUTHORIZED, "Invalid token").into_response(),
        (Some(_), None) => ApiError::bad_request("The form has no `token` field").into_response(),
    }
}

/// The CORS layer of these rules.
pub(crate) fn cors(access: &Access) -> CorsLayer {
    let origins = match &access.token {
        None => AllowOrigin::mirror_request(),
        Some(_) => {
            let list: Vec<HeaderValue> =
                access.origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()).collect();
            AllowOrigin::list(list)
        }
    };
    CorsLayer::new()
        .allow_origin(origins)
        .allow_credentials(true)
        .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
        .allow_headers(AllowHeaders::mirror_request())
}
