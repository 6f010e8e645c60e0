//! The server the protocol tests (and the Python client's) talk to:
//! `cargo run -p workflow-server --example protocol_fixture -- 127.0.0.1:8080 [quick]`;
//! `quick` serves only the flows that end at once (for schemathesis).

#[path = "../tests/flows/mod.rs"]
mod flows;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:8080".to_owned());
    // A bare port is one on loopback (as the original server's script takes it).
    let addr = if addr.chars().all(|c| c.is_ascii_digit()) { format!("127.0.0.1:{addr}") } else { addr };
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    let server = if std::env::args().nth(2).as_deref() == Some("quick") {
        flows::quick_server()
    } else {
        flows::server()
    };
    axum::serve(listener, server.router()).await
}
