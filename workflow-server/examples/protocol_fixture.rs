//! The server the protocol tests (and the Python client's) talk to:
//! `cargo run -p workflow-server --example protocol_fixture -- 127.0.0.1:8080`.

#[path = "../tests/flows/mod.rs"]
mod flows;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:8080".to_owned());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, flows::server().router()).await
}
