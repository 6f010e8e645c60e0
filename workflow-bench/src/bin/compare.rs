//! Compares the workflow runtime with hand-written tokio code, scenario by
//! scenario, at several sizes, in one run:
//!
//! ```text
//! cargo run --release -p workflow-bench --bin compare [-- --sizes 1000,10000 --scenarios chain,loop --repeat 3]
//! cargo run --release -p workflow-bench --bin compare -- --waiting 100000
//! ```
//!
//! Each measurement runs in a child process of its own, so that its peak
//! memory (VmHWM) is its own; the table shows medians over `--repeat` runs.

use std::process::Command;
use std::time::Instant;

use workflow_bench::Scenario;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--child") {
        return child(&args[1..]);
    }
    if args.first().map(String::as_str) == Some("--waiting-child") {
        return waiting_child(args[1].parse().expect("a number of runs"), args.get(2).map(String::as_str));
    }
    let option = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    if let Some(runs) = option("--waiting") {
        return waiting(runs.parse().expect("--waiting takes a number"));
    }
    let sizes: Vec<u64> = option("--sizes")
        .unwrap_or_else(|| "1000,10000,100000,1000000".into())
        .split(',')
        .map(|s| s.parse().expect("--sizes takes numbers"))
        .collect();
    let scenarios: Vec<Scenario> = match option("--scenarios") {
        Some(list) => list.split(',').map(|s| Scenario::parse(s).expect("a scenario name")).collect(),
        None => Scenario::ALL.to_vec(),
    };
    let repeat: usize = option("--repeat").map_or(3, |r| r.parse().expect("--repeat takes a number"));

    println!(
        "| scenario | n | events | framework ns/event | framework Mev/s | framework peak MiB | floor ns/event | floor Mev/s | floor peak MiB | ratio |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for scenario in scenarios {
        for &n in &sizes {
            let framework = measure(scenario, "framework", n, repeat);
            let floor = measure(scenario, "floor", n, repeat);
            println!(
                "| {} | {} | {} | {:.1} | {:.2} | {:.1} | {:.1} | {:.2} | {:.1} | {:.2}x |",
                scenario.name(),
                n,
                framework.events,
                framework.ns_per_event(),
                framework.mega_events_per_second(),
                framework.peak_mib(),
                floor.ns_per_event(),
                floor.mega_events_per_second(),
                floor.peak_mib(),
                framework.ns_per_event() / floor.ns_per_event(),
            );
        }
    }
}

struct Measurement {
    events: u64,
    nanos: u64,
    peak_kib: u64,
}

impl Measurement {
    fn ns_per_event(&self) -> f64 {
        self.nanos as f64 / self.events as f64
    }
    fn mega_events_per_second(&self) -> f64 {
        self.events as f64 / (self.nanos as f64 / 1e9) / 1e6
    }
    fn peak_mib(&self) -> f64 {
        self.peak_kib as f64 / 1024.0
    }
}

/// The median of `repeat` child runs.
fn measure(scenario: Scenario, side: &str, n: u64, repeat: usize) -> Measurement {
    let exe = std::env::current_exe().expect("the harness knows where it is");
    let mut runs: Vec<Measurement> = (0..repeat)
        .map(|_| {
            let out = Command::new(&exe)
                .args(["--child", scenario.name(), side, &n.to_string()])
                .output()
                .expect("the child runs");
            assert!(
                out.status.success(),
                "{} {side} {n}: {}",
                scenario.name(),
                String::from_utf8_lossy(&out.stderr)
            );
            let text = String::from_utf8_lossy(&out.stdout);
            let fields: Vec<u64> = text.split_whitespace().map(|f| f.parse().expect("numbers")).collect();
            Measurement { events: fields[0], nanos: fields[1], peak_kib: fields[2] }
        })
        .collect();
    runs.sort_by_key(|m| m.nanos);
    runs.swap_remove(runs.len() / 2)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("a runtime")
}

/// Runs one scenario once and prints `events nanos peak_kib`.
fn child(args: &[String]) {
    let scenario = Scenario::parse(&args[0]).expect("a scenario");
    let n: u64 = args[2].parse().expect("a size");
    let runtime = runtime();
    let started = Instant::now();
    let events = runtime.block_on(async {
        match args[1].as_str() {
            "framework" => scenario.framework(n).await,
            _ => scenario.floor(n).await,
        }
    });
    let nanos = started.elapsed().as_nanos() as u64;
    println!("{events} {nanos} {}", status_kib("VmHWM:"));
}

/// How much memory a run waiting for outside input holds.
fn waiting(runs: u64) {
    let exe = std::env::current_exe().expect("the harness knows where it is");
    for how in ["in-place", "returned"] {
        let out = Command::new(&exe)
            .args(["--waiting-child", &runs.to_string(), how])
            .output()
            .expect("the child runs");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        print!("{}", String::from_utf8_lossy(&out.stdout));
    }
}

fn waiting_child(runs: u64, how: Option<&str>) {
    if how == Some("returned") {
        return returned_child(runs);
    }
    use workflow_bench::flows::Asker;
    use workflow_core::prelude::*;
    let runtime = runtime();
    runtime.block_on(async {
        // Warm up the runtime and allocator with one full run before the baseline.
        let warm = Asker.start(0);
        while workflow_bench::flows::waiting() < 1 {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        warm.send_event(HumanResponse::new(1)).expect("the warm-up run waits");
        warm.await.expect("the warm-up run ends");
        let before = status_kib("VmRSS:");
        let handlers: Vec<_> = (0..runs).map(Asker.start_shared()).collect();
        // Let every run reach its wait.
        while workflow_bench::flows::waiting() < runs + 1 {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        report_rss_growth(runs, before, "waiting in ctx.wait_for_event (step suspended in place)");
        drop(handlers);
    });
}

/// Runs that returned `InputRequired` and wait with no step in flight.
fn returned_child(runs: u64) {
    use workflow_bench::flows::Requester;
    use workflow_core::prelude::*;
    let runtime = runtime();
    runtime.block_on(async {
        let warm = Requester.start(0);
        warm.send_event(HumanResponse::new(1)).expect("the warm-up run is open");
        warm.await.expect("the warm-up run ends");
        let before = status_kib("VmRSS:");
        let flow = std::sync::Arc::new(Requester);
        let handlers: Vec<_> = (0..runs).map(|i| std::sync::Arc::clone(&flow).start(i)).collect();
        while workflow_bench::flows::waiting() < runs + 1 {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        // Let the last steps finish and their runs settle into waiting.
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        report_rss_growth(runs, before, "waiting after returning InputRequired (no step in flight)");
        drop(handlers);
    });
}

/// Prints how much the resident set grew since `before` (KiB), per run.
fn report_rss_growth(runs: u64, before: u64, what: &str) {
    let grown = status_kib("VmRSS:").saturating_sub(before);
    let per_run = grown as f64 * 1024.0 / runs as f64;
    println!("{runs} runs {what}: {per_run:.0} bytes per run ({} MiB in all)", grown / 1024);
}

/// A `VmHWM:` or `VmRSS:` figure from /proc/self/status, in KiB.
fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with(field)).map(str::to_owned))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}
