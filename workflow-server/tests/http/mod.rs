//! A small blocking HTTP/1.1 client, for the tests that talk to a server
//! in another process: JSON calls, and SSE streams read event by event.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::Value;

/// A connection that has sent its request and read the response's head.
struct Response {
    status: u16,
    chunked: bool,
    reader: BufReader<TcpStream>,
}

fn send(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&Value>,
) -> Option<Response> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    let body = body.map(Value::to_string).unwrap_or_default();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).ok()?;
    stream.write_all(body.as_bytes()).ok()?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let status = line.split_whitespace().nth(1)?.parse().ok()?;
    let mut chunked = false;
    loop {
        line.clear();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if line.trim().is_empty() {
            break;
        }
        let lower = line.to_ascii_lowercase();
        if lower.starts_with("transfer-encoding:") && lower.contains("chunked") {
            chunked = true;
        }
    }
    Some(Response { status, chunked, reader })
}

impl Response {
    /// The next piece of the body; `None` at its end (or if the server went).
    fn next_piece(&mut self) -> Option<Vec<u8>> {
        if !self.chunked {
            let mut rest = Vec::new();
            self.reader.read_to_end(&mut rest).ok()?;
            self.chunked = true; // read once
            return (!rest.is_empty()).then_some(rest);
        }
        let mut size = String::new();
        self.reader.read_line(&mut size).ok()?;
        let size = usize::from_str_radix(size.trim(), 16).ok()?;
        if size == 0 {
            return None;
        }
        let mut piece = vec![0; size + 2]; // with its CRLF
        self.reader.read_exact(&mut piece).ok()?;
        piece.truncate(size);
        Some(piece)
    }
}

/// `method path` with a JSON body: the status and the JSON answered
/// (status 0 if the server could not be reached).
pub fn call(addr: &str, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
    let Some(mut response) = send(addr, method, path, &[], body) else { return (0, Value::Null) };
    let mut bytes = Vec::new();
    while let Some(piece) = response.next_piece() {
        bytes.extend(piece);
    }
    (response.status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// Reads the SSE stream at `path`, handing each event's sequence and
/// envelope to `on_event` until it returns true (then true), or the
/// stream ends or breaks (then false).
pub fn sse(
    addr: &str,
    path: &str,
    headers: &[(&str, &str)],
    mut on_event: impl FnMut(u64, Value) -> bool,
) -> bool {
    let Some(mut response) = send(addr, "GET", path, headers, None) else { return false };
    if response.status != 200 {
        return false;
    }
    let mut text = String::new();
    while let Some(piece) = response.next_piece() {
        text.push_str(&String::from_utf8_lossy(&piece));
        while let Some(end) = text.find("\n\n") {
            let block: String = text.drain(..end + 2).collect();
            let mut id = None;
            let mut data = None;
            for line in block.lines() {
                if let Some(rest) = line.strip_prefix("id: ") {
                    id = rest.trim().parse().ok();
                } else if let Some(rest) = line.strip_prefix("data: ") {
                    data = serde_json::from_str(rest).ok();
                }
            }
            if let (Some(id), Some(data)) = (id, data) {
                if on_event(id, data) {
                    return true;
                }
            }
        }
    }
    false
}

/// Polls handler `id` until it has ended; its record.
pub fn wait_for_end(addr: &str, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, record) = call(addr, "GET", &format!("/handlers/{id}"), None);
        if record["status"].as_str().is_some_and(|s| s != "running") {
            return record;
        }
        assert!(Instant::now() < deadline, "handler {id} did not end: {record}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
