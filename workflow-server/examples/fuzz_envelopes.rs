//! Fuzzes the reading of events sent in (`workflow_server::fuzzing::check`)
//! for a given time with generated inputs: random bytes, random JSON, and
//! mutations of the envelopes clients really send. On stable Rust, with a
//! small generator of its own; `scripts/fuzz-envelopes` runs it.
//!
//! `cargo run --release -p workflow-server --features fuzzing --example fuzz_envelopes -- SECONDS [SEED]`

use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};
use workflow_server::fuzzing::{check, type_names, Outcome};

/// xorshift64*: enough randomness for input generation.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

const WORDS: &[&str] = &[
    "value",
    "data",
    "type",
    "types",
    "qualified_name",
    "__is_pydantic",
    "_data",
    "input",
    "result",
    "request",
    "response",
    "greeting",
    "name",
    "",
    "StartEvent",
    "StopEvent",
    "HumanResponseEvent",
    "InputRequiredEvent",
    "fuzz.Greeted",
    "workflows.events.StopEvent",
    "🦀",
    "\u{0}",
    "\"",
    "\\",
];

fn string(rng: &mut Rng, names: &[String]) -> String {
    match rng.below(4) {
        0 => rng.pick(names).clone(),
        1 => rng.pick(WORDS).to_string(),
        2 => {
            let mut name = rng.pick(names).clone();
            if !name.is_empty() {
                let at = rng.below(name.len() as u64) as usize;
                if name.is_char_boundary(at) {
                    name.insert(at, (b'a' + rng.below(26) as u8) as char);
                }
            }
            name
        }
        _ => (0..rng.below(12)).map(|_| char::from_u32(rng.below(0x250) as u32).unwrap_or('x')).collect(),
    }
}

fn json_value(rng: &mut Rng, names: &[String], depth: u32) -> Value {
    match rng.below(if depth > 3 { 5 } else { 8 }) {
        0 => Value::Null,
        1 => json!(rng.below(2) == 0),
        2 => json!(rng.next() as i64 >> rng.below(60)),
        3 => {
            json!(f64::from_bits(rng.next()).clamp(-1e300, 1e300)).as_f64().map_or(Value::Null, |f| json!(f))
        }
        4 => Value::String(string(rng, names)),
        5 | 6 => {
            let mut map = Map::new();
            for _ in 0..rng.below(5) {
                map.insert(string(rng, names), json_value(rng, names, depth + 1));
            }
            Value::Object(map)
        }
        _ => Value::Array((0..rng.below(4)).map(|_| json_value(rng, names, depth + 1)).collect()),
    }
}

/// An envelope in one of the four forms clients send, then perhaps mutated.
fn envelope(rng: &mut Rng, names: &[String]) -> Value {
    let name = string(rng, names);
    let value = json_value(rng, names, 1);
    let mut event = match rng.below(4) {
        0 => json!({ "value": value, "type": name, "types": null, "qualified_name": format!("fuzz.{name}") }),
        1 => Value::String(json!({ "type": name, "data": value }).to_string()),
        2 => json!({ "__is_pydantic": true, "value": value, "qualified_name": format!("fuzz.{name}") }),
        _ => value,
    };
    if let (Value::Object(map), true) = (&mut event, rng.below(3) == 0) {
        let key = string(rng, names);
        map.insert(key, json_value(rng, names, 1));
    }
    event
}

fn input(rng: &mut Rng, names: &[String]) -> Vec<u8> {
    match rng.below(10) {
        0 => (0..rng.below(64)).map(|_| rng.next() as u8).collect(),
        1 => json_value(rng, names, 0).to_string().into_bytes(),
        2 => {
            let mut bytes = envelope(rng, names).to_string().into_bytes();
            for _ in 0..=rng.below(3) {
                if !bytes.is_empty() {
                    let at = rng.below(bytes.len() as u64) as usize;
                    bytes[at] = rng.next() as u8;
                }
            }
            bytes
        }
        _ => envelope(rng, names).to_string().into_bytes(),
    }
}

fn main() {
    let seconds: u64 = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(60);
    let seed: u64 = std::env::args().nth(2).and_then(|s| s.parse().ok()).unwrap_or(0x5EED_2026);
    let names = type_names();
    let mut rng = Rng(seed | 1);
    let start = Instant::now();
    let (mut runs, mut read) = (0u64, 0u64);
    let mut next_report = Duration::from_secs(60);
    while start.elapsed() < Duration::from_secs(seconds) {
        for _ in 0..1000 {
            let bytes = input(&mut rng, &names);
            let outcome = std::panic::catch_unwind(|| check(&bytes));
            match outcome {
                Ok(Outcome::Read) => read += 1,
                Ok(Outcome::Refused) => {}
                Err(_) => {
                    eprintln!(
                        "FAILED on input {:?} (seed {seed}, after {runs} inputs)",
                        String::from_utf8_lossy(&bytes)
                    );
                    std::process::exit(1);
                }
            }
            runs += 1;
        }
        if start.elapsed() >= next_report {
            eprintln!("{:>5} s: {runs} inputs, {read} read as events", start.elapsed().as_secs());
            next_report += Duration::from_secs(60);
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "fuzzed envelope reading for {secs:.0} s (seed {seed}): {runs} inputs ({:.0}/s), {read} read as events and round-tripped, {} refused, 0 failures",
        runs as f64 / secs,
        runs - read
    );
}
