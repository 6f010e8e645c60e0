//! LlamaIndex's workflow-server protocol over Rust workflows: its Python
//! (`llama-agents-client`) and TypeScript clients and its debugger drive
//! them unchanged. See `docs/server.md` and `../shared/SERVER-PROTOCOL.md`.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let server = workflow_server::Server::new().registered();
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! axum::serve(listener, server.router()).await
//! # }
//! ```

mod access;
mod app;
mod clock;
mod envelope;
mod error;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod openapi;
mod request;
mod routes;
mod runs;
mod shutdown;
mod store;
mod stream;
mod ui;

use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use workflow_core::registry::{begin_json_on, registration_of, registry, Registration};
use workflow_core::Workflow;

use envelope::Envelopes;
pub use error::ApiError;
use runs::{Runs, Served};
pub use shutdown::Shutdown;
pub use store::{Store, StoreError};

/// What the server serves and how: build it, then mount [`Server::router`].
pub struct Server {
    served: Vec<Arc<Served>>,
    heartbeat: Duration,
    body_limit: usize,
    access: access::Access,
    store: Option<Arc<Store>>,
    idle_release: Option<Duration>,
    shutdown: Shutdown,
    debugger_dir: Option<Arc<std::path::PathBuf>>,
}

impl Default for Server {
    fn default() -> Self {
        Self::new()
    }
}

/// Why a workflow cannot be served.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// It has no registration (a generic workflow not listed in its
    /// `register = [..]`), so its events' schemas are unknown.
    #[error(
        "workflow `{0}` is not registered: list this instantiation in its `#[workflow(register = [..])]`"
    )]
    NotRegistered(&'static str),
    /// Two workflows would have one name.
    #[error("two served workflows are named `{0}`; serve one of them under another name")]
    Duplicate(String),
}

impl Server {
    /// Serves nothing yet; the SSE heartbeat is every 25 s, as LlamaIndex's.
    /// Its runs are kept in memory until [`store`](Self::store) gives a file.
    pub fn new() -> Self {
        Self {
            served: Vec::new(),
            heartbeat: Duration::from_secs(25),
            body_limit: 1 << 20,
            access: access::Access::default(),
            store: None,
            idle_release: Some(Duration::from_secs(300)),
            shutdown: Shutdown::new(Duration::from_secs(10)),
            debugger_dir: None,
        }
    }

    /// Serves LlamaIndex's debugger (at `/`) from `dir` rather than from its
    /// CDN, for machines without internet: `dir` holds its `app.js` and
    /// `app.css`, as `npm pack @llamaindex/workflow-debugger@0.2.42` unpacks
    /// them (`package/dist/`). Our own viewer, at `/ui/`, needs nothing.
    pub fn ui_dir(mut self, dir: Option<std::path::PathBuf>) -> Self {
        self.debugger_dir = dir.map(Arc::new);
        self
    }

    /// Keeps handlers, event logs and journals in `store`: with a file
    /// ([`Store::open`]), a restarted server finds every run, and resumes
    /// those that were going (see `docs/server.md`).
    pub fn store(mut self, store: Store) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// How long a durable run that waits for outside input, with no step
    /// in flight, stays in memory before it is released (5 minutes by
    /// default; `None` keeps every run). It is loaded again when an event
    /// or a cancel comes for it.
    pub fn idle_release(mut self, after: Option<Duration>) -> Self {
        self.idle_release = after;
        self
    }

    /// What ends the server gracefully (see [`Shutdown`]); clone it before
    /// [`router`](Self::router) takes the server.
    pub fn shutdown(&self) -> Shutdown {
        self.shutdown.clone()
    }

    /// How long open streams and waiting requests get to finish once
    /// [`Shutdown::begin`] is called (10 s by default).
    pub fn drain(mut self, deadline: Duration) -> Self {
        self.shutdown = Shutdown::new(deadline);
        self
    }

    /// Also serves every registered workflow (those the registry can
    /// build, through `Default` or `#[workflow(new = ..)]`), under its name.
    pub fn registered(mut self) -> Self {
        for registration in registry() {
            if self.served.iter().any(|s| s.name == registration.name()) {
                continue;
            }
            let start = move |begin, options| registration.begin_json(begin, options);
            self.served.push(Arc::new(served(
                registration,
                registration.name().to_owned(),
                Box::new(start),
                None,
            )));
        }
        self
    }

    /// Serves the instance `flow` under its workflow's name.
    pub fn workflow<W>(self, flow: W) -> Result<Self, ServeError>
    where
        W: Workflow,
        W::Input: DeserializeOwned,
    {
        self.workflow_as(W::INFO.name, flow, None)
    }

    /// Serves the instance `flow` under `name`, with runs ended after
    /// `timeout` if one is given.
    pub fn workflow_as<W>(
        mut self,
        name: &str,
        flow: W,
        timeout: Option<Duration>,
    ) -> Result<Self, ServeError>
    where
        W: Workflow,
        W::Input: DeserializeOwned,
    {
        let registration = registration_of::<W>().ok_or(ServeError::NotRegistered(W::INFO.name))?;
        if self.served.iter().any(|s| s.name == name) {
            return Err(ServeError::Duplicate(name.to_owned()));
        }
        let flow = Arc::new(flow);
        let start = move |begin, options| begin_json_on(Arc::clone(&flow), begin, options);
        self.served.push(Arc::new(served(registration, name.to_owned(), Box::new(start), timeout)));
        Ok(self)
    }

    /// How often an open SSE stream gets a `: heartbeat` comment.
    pub fn heartbeat(mut self, every: Duration) -> Self {
        self.heartbeat = every;
        self
    }

    /// The largest request body taken, in bytes (1 MiB by default); larger
    /// ones get a 413.
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// Asks for `token` on every route but `/health`, `/openapi.json` and
    /// `/login` (see `docs/server.md`); `None` (the default) asks for none.
    pub fn token(mut self, token: Option<String>) -> Self {
        self.access.token = token.filter(|t| !t.is_empty()).map(Arc::from);
        self
    }

    /// With a token: the origins (`https://app.example:8443`) whose pages
    /// may call the server from a browser. Without a token, every origin may.
    pub fn allow_origins(mut self, origins: impl IntoIterator<Item = String>) -> Self {
        self.access.origins = origins.into_iter().collect();
        self
    }

    /// The names it serves, in order.
    pub fn names(&self) -> Vec<&str> {
        self.served.iter().map(|s| s.name.as_str()).collect()
    }

    /// The routes, to serve or to mount under a base path with
    /// `Router::nest`. Called in a tokio runtime: the runs the store holds
    /// unfinished are resumed here.
    pub fn router(self) -> axum::Router {
        self.build().0
    }

    /// [`router`](Self::router), and a look at its runs for tests and tools.
    pub fn router_and_runs(self) -> (axum::Router, RunsView) {
        let (router, app) = self.build();
        (router, RunsView { app })
    }

    fn build(self) -> (axum::Router, app::App) {
        let access = self.access.clone();
        let names: Vec<&str> = self.served.iter().map(|s| s.name.as_str()).collect();
        let document = Arc::new(openapi::document(&names, access.token.is_some()));
        let store = match self.store {
            Some(store) => store,
            None => Arc::new(Store::in_memory().expect("SQLite opens a database in memory")),
        };
        let runs = Runs::new(store, self.idle_release);
        if let Err(error) = runs.load(&self.served) {
            tracing::error!(%error, "the runs in the store cannot be read");
        }
        let app = Arc::new(app::AppState {
            served: self.served,
            runs,
            heartbeat: self.heartbeat,
            body_limit: self.body_limit,
            shutdown: self.shutdown,
            debugger_dir: self.debugger_dir,
        });
        let routes = routes::router(Arc::clone(&app)).merge(ui::router(Arc::clone(&app)));
        let login = axum::Router::new()
            .route("/login", axum::routing::get(access::login_form).post(access::login))
            .with_state(access.clone());
        let openapi = axum::Router::new().route(
            "/openapi.json",
            axum::routing::get(move || async move { axum::Json((*document).clone()) }),
        );
        let router = routes
            .merge(login)
            .merge(openapi)
            .layer(axum::middleware::from_fn_with_state(access.clone(), access::guard))
            .layer(access::cors(&access));
        (router, app)
    }

    /// Serves on `listener` until `signal` resolves (SIGTERM, say), then
    /// shuts down gracefully: no new connections, open streams and waiting
    /// requests end by the drain deadline, and it returns. Runs stop where
    /// their journals are; a restart on the same store resumes them.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        signal: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let shutdown = self.shutdown();
        let router = self.router();
        let drained = shutdown.clone();
        let serving = axum::serve(listener, router).with_graceful_shutdown(async move {
            signal.await;
            shutdown.begin();
        });
        // Connections that outlast the deadline (a client that never reads)
        // are not waited for.
        tokio::select! {
            served = serving => served,
            () = async { drained.closed().await; tokio::time::sleep(Duration::from_secs(1)).await } => Ok(()),
        }
    }
}

/// A look at a server's runs, for tests and tools.
#[derive(Clone)]
pub struct RunsView {
    app: app::App,
}

impl RunsView {
    /// How many runs are in memory and driven (neither ended nor released).
    pub fn loaded(&self) -> usize {
        self.app.runs.loaded()
    }
}

impl std::fmt::Debug for RunsView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunsView").field("loaded", &self.loaded()).finish()
    }
}

fn served(
    registration: &'static Registration,
    name: String,
    start: Box<runs::Starter>,
    timeout: Option<Duration>,
) -> Served {
    let schemas = registration
        .event_schemas()
        .into_iter()
        .map(|(key, schema)| (key, serde_json::to_value(schema).unwrap_or_default()))
        .collect();
    Served {
        name,
        info: registration.info(),
        envelopes: Envelopes::new(registration.info(), registration.module()),
        schemas,
        start,
        timeout,
        durable: registration.journaled(),
    }
}
