//! The server the protocol tests (and the Python client's) talk to:
//! `cargo run -p workflow-server --example protocol_fixture -- 127.0.0.1:8080 [quick|restart|ui]
//! [--db PATH] [--idle-release-ms N] [--drain-ms N] [--ui-dir DIR]
//! [--token T] [--base /path]`; `quick` serves only the flows
//! that end at once (for schemathesis), `restart` those of the restart tests and
//! `scripts/soak-server`, `ui` those of the browser tests (`scripts/check-ui`). It stops gracefully on SIGTERM.

use std::time::Duration;

#[path = "../tests/flows/mod.rs"]
mod flows;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let millis = |name: &str| flag(name).and_then(|v| v.parse().ok()).map(Duration::from_millis);
    let addr = args.first().cloned().unwrap_or_else(|| "127.0.0.1:8080".to_owned());
    // A bare port is one on loopback (as the original server's script takes it).
    let addr = if addr.chars().all(|c| c.is_ascii_digit()) { format!("127.0.0.1:{addr}") } else { addr };
    let mut server = match args.get(1).map(String::as_str) {
        Some("quick") => flows::quick_server(),
        Some("restart") => flows::restart_server(),
        Some("ui") => flows::ui_server(),
        _ => flows::server(),
    };
    if let Some(path) = flag("--db") {
        server = server.store(workflow_server::Store::open(path)?);
    }
    if let Some(after) = millis("--idle-release-ms") {
        server = server.idle_release(Some(after));
    }
    if let Some(dir) = flag("--ui-dir") {
        server = server.ui_dir(Some(dir.into()));
    }
    if let Some(drain) = millis("--drain-ms") {
        server = server.drain(drain);
    }
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    let terminate = async {
        let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM can be caught");
        sigterm.recv().await;
    };
    if let Some(token) = flag("--token") {
        server = server.token(Some(token));
    }
    match flag("--base") {
        // Mounted under a base path, as a user would with `Router::nest`.
        Some(base) => {
            let shutdown = server.shutdown();
            let router = axum::Router::new().nest(&base, server.router());
            axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    terminate.await;
                    shutdown.begin();
                })
                .await?;
        }
        None => server.serve(listener, terminate).await?,
    }
    eprintln!("stopped");
    Ok(())
}
