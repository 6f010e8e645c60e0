//! The `workflow` command for the workflows linked into a program: `list`,
//! `describe NAME`, `draw NAME` and `run NAME --input JSON [--answer JSON]..`.
//!
//! When a run asks for input (`InputRequired<T>`), `run` answers it with the
//! next `--answer`; with none left, it prompts on a terminal, or reads a
//! line of standard input otherwise. An answer is the answer event's JSON
//! (`{"response": "yes"}` for `HumanResponse<String>`), or
//! `{"event": "Type", "data": ..}` to choose among several answer types.
//!
//! Exit codes: 0 the run completed; 1 it failed; 2 bad usage or input (an
//! unknown workflow, bad JSON, an answer of a type the workflow does not
//! take); 3 the run asked for input that nothing gave.
//!
//! The registry sees the workflows of the crates the program links, so the
//! command is a library: a binary that depends on your workflows calls
//! [`main`] (see `workflow-examples/src/bin/workflow.rs`):
//!
//! ```no_run
//! fn main() -> std::process::ExitCode {
//!     // Reference your workflow crate so that the linker keeps its registrations.
//!     workflow_cli::main()
//! }
//! ```

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use futures::StreamExt;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use workflow_core::registry::{find, registry, Registration, SendJsonError, StartError};
use workflow_core::{RunEvent, RunOptions, RunOutcome};
use workflow_server::Store;

/// Lists, describes, draws and runs the workflows this program registers.
#[derive(Debug, Parser)]
#[command(name = "workflow", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Lists every registered workflow.
    List,
    /// Shows a workflow's steps, events and JSON Schemas.
    Describe {
        /// The workflow's name, as `list` shows it.
        name: String,
    },
    /// Draws a workflow's graph.
    Draw {
        /// The workflow's name.
        name: String,
        /// What to draw it as.
        #[arg(long, value_enum, default_value_t = Format::Mermaid)]
        format: Format,
        /// Write to this file instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Runs a workflow on a JSON input, showing its steps as they run, and
    /// prints its result as JSON.
    Run {
        /// The workflow's name.
        name: String,
        /// The input, as JSON (a JSON string needs its quotes: '"text"').
        #[arg(long, short)]
        input: String,
        /// Give up after this many seconds.
        #[arg(long)]
        timeout: Option<f64>,
        /// An answer to the run's next request for input, as JSON; repeat it
        /// for several requests. Without one, a terminal is prompted and
        /// other standard input is read a line per request.
        #[arg(long)]
        answer: Vec<String>,
    },
    /// Serves every registered workflow over LlamaIndex's workflow-server
    /// HTTP protocol (its Python and TypeScript clients and debugger).
    Serve(ServeArgs),
}

/// How `workflow serve` serves.
#[derive(clap::Args, Debug)]
struct ServeArgs {
    /// Where to listen: loopback unless told otherwise.
    #[arg(long, default_value = DEFAULT_ADDR)]
    addr: String,
    /// Ask every caller for this token (`Authorization: Bearer ..`, or the
    /// cookie the /login form sets); every route but /health then needs it.
    #[arg(long, env = "WORKFLOW_SERVER_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// With a token, an origin whose pages may call the server from a
    /// browser (repeat for several); without one, every origin may.
    #[arg(long = "allow-origin")]
    allow_origins: Vec<String>,
    /// The SQLite file that keeps handlers, event logs and journals, so
    /// that a restart resumes unfinished runs; `:memory:` keeps nothing.
    #[arg(long, default_value = "workflow-runs.db")]
    db: String,
    /// Seconds a run waiting for outside input (no step in flight) stays in
    /// memory before it is released to the store; 0 keeps every run.
    #[arg(long, default_value_t = 300)]
    idle_release: u64,
    /// Seconds open streams get to end after SIGTERM or Ctrl-C.
    #[arg(long, default_value_t = 10)]
    drain: u64,
    /// Serve LlamaIndex's debugger (at /) from this directory rather than
    /// its CDN: unpack `npm pack @llamaindex/workflow-debugger@0.2.42` in it.
    #[arg(long)]
    ui_dir: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Format {
    /// A mermaid flowchart.
    Mermaid,
    /// An SVG image.
    Svg,
    /// A self-contained HTML page with the SVG.
    Html,
    /// One line per step.
    Text,
}

/// Where `serve` listens unless told otherwise: loopback only.
const DEFAULT_ADDR: &str = "127.0.0.1:8080";

/// Exit code for a run that failed.
const FAILED: u8 = 1;
/// Exit code for a bad command: unknown workflow, bad JSON, wrong input.
const USAGE: u8 = 2;
/// Exit code for a run that asked for input nothing gave.
const NO_ANSWER: u8 = 3;

/// Parses the command line and runs the command; the process's exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // With the `otel` feature, spans go to the collector that
    // OTEL_EXPORTER_OTLP_ENDPOINT names, flushed when `_telemetry` is dropped.
    #[cfg(feature = "otel")]
    let _telemetry = match workflow_otel::Telemetry::from_env("workflow")
        .and_then(|t| t.map(|t| t.install()).transpose())
    {
        Ok(installed) => installed,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(USAGE);
        }
    };
    run(cli)
}

/// Runs one parsed command.
pub fn run(cli: Cli) -> ExitCode {
    let result = match cli.command {
        Command::List => list(),
        Command::Describe { name } => describe(&name),
        Command::Draw { name, format, output } => draw(&name, format, output),
        Command::Run { name, input, timeout, answer } => execute(&name, &input, timeout, answer),
        Command::Serve(args) => serve(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err((code, message)) => {
            eprintln!("error: {message}");
            ExitCode::from(code)
        }
    }
}

type Outcome = Result<(), (u8, String)>;

/// `workflow serve`: until Ctrl-C or SIGTERM, then open streams get the
/// drain deadline to end, and unfinished runs wait in the store for the
/// next start.
fn serve(args: ServeArgs) -> Outcome {
    let ServeArgs { addr, token, allow_origins, db, idle_release, drain, ui_dir } = args;
    let runtime = tokio::runtime::Runtime::new().map_err(|e| (FAILED, format!("cannot start tokio: {e}")))?;
    runtime.block_on(async {
        let store = if db == ":memory:" { Store::in_memory() } else { Store::open(&db) };
        let store = store.map_err(|e| (USAGE, e.to_string()))?;
        let idle_release = (idle_release > 0).then(|| Duration::from_secs(idle_release));
        let server = workflow_server::Server::new()
            .registered()
            .token(token)
            .allow_origins(allow_origins)
            .store(store)
            .idle_release(idle_release)
            .drain(Duration::from_secs(drain))
            .ui_dir(ui_dir);
        let listener = tokio::net::TcpListener::bind(&addr)
            .await
            .map_err(|e| (USAGE, format!("cannot listen on {addr}: {e}")))?;
        let local = listener.local_addr().map_err(|e| (FAILED, e.to_string()))?;
        eprintln!(
            "serving {} workflows on http://{local} (runs kept in {db}; the debugger at /, the run viewer at /ui/)",
            server.names().len()
        );
        let stop = async {
            let mut terminate =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
            let sigterm = async {
                match &mut terminate {
                    Some(terminate) => {
                        terminate.recv().await;
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                () = sigterm => {}
            }
        };
        server.serve(listener, stop).await.map_err(|e| (FAILED, format!("the server stopped: {e}")))
    })
}

fn usage(error: impl ToString) -> (u8, String) {
    (USAGE, error.to_string())
}

fn lookup(name: &str) -> Result<&'static Registration, (u8, String)> {
    find(name).map_err(usage)
}

/// Writes to standard output; a reader that went away (`| head`) is not an error.
fn emit(text: &str) -> Outcome {
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err((FAILED, format!("cannot write: {e}"))),
        _ => Ok(()),
    }
}

fn list() -> Outcome {
    let all = registry();
    let mut out = String::new();
    if all.is_empty() {
        out.push_str("no workflows are registered in this program\n");
    }
    let width = all.iter().map(|r| r.name().len()).max().unwrap_or(0);
    for r in all {
        let info = r.info();
        out.push_str(&format!(
            "{:width$}  {} steps  {} -> {}  ({})\n",
            r.name(),
            info.steps.len(),
            info.start,
            info.stop,
            r.module()
        ));
    }
    emit(&out)
}

fn describe(name: &str) -> Outcome {
    let r = lookup(name)?;
    let info = r.info();
    let mut out = String::new();
    out.push_str(&format!("workflow {} ({})\n", r.name(), r.module()));
    out.push_str("\nsteps:\n");
    for step in info.steps {
        out.push_str(&format!(
            "  {} (workers: {})\n    takes:   {}\n    emits:   {}\n",
            step.name,
            step.num_workers,
            step.accepts.join(", "),
            if step.emits.is_empty() { "-".to_owned() } else { step.emits.join(", ") }
        ));
        if !step.streams.is_empty() {
            out.push_str(&format!("    streams: {}\n", step.streams.join(", ")));
        }
    }
    out.push_str(&format!("\nevents: {}\n", info.events.join(", ")));
    let input = serde_json::to_string_pretty(&r.input_schema()).unwrap_or_default();
    let output = serde_json::to_string_pretty(&r.output_schema()).unwrap_or_default();
    out.push_str(&format!("\ninput schema ({}):\n{input}\n", info.start));
    out.push_str(&format!("\noutput schema ({}):\n{output}\n", info.stop));
    emit(&out)
}

fn draw(name: &str, format: Format, output: Option<PathBuf>) -> Outcome {
    let r = lookup(name)?;
    let info = r.info();
    let text = match format {
        Format::Mermaid => info.mermaid.to_owned(),
        Format::Svg => info.svg(),
        Format::Text => info.graph().text(),
        Format::Html => format!(
            "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{name}</title></head>\
             <body style=\"font-family: sans-serif\"><h1>{name}</h1>\n{svg}\n</body></html>\n",
            name = r.name(),
            svg = info.svg()
        ),
    };
    match output {
        None => emit(&text)?,
        Some(path) => std::fs::write(&path, text)
            .map_err(|e| (FAILED, format!("cannot write {}: {e}", path.display())))?,
    }
    Ok(())
}

fn execute(name: &str, input: &str, timeout: Option<f64>, answers: Vec<String>) -> Outcome {
    let mut answers: std::collections::VecDeque<String> = answers.into();
    let r = lookup(name)?;
    let input: serde_json::Value =
        serde_json::from_str(input).map_err(|e| usage(format!("the input is not valid JSON: {e}")))?;
    let mut options = RunOptions::new().internal_events(true);
    if let Some(seconds) = timeout {
        let timeout =
            Duration::try_from_secs_f64(seconds).map_err(|e| usage(format!("bad --timeout: {e}")))?;
        options = options.timeout(timeout);
    }
    let runtime = tokio::runtime::Runtime::new().map_err(|e| (FAILED, format!("cannot start tokio: {e}")))?;
    runtime.block_on(async {
        let mut run = r.start_json(input, options).map_err(|e| match e {
            StartError::Unknown { .. } | StartError::Ambiguous { .. } | StartError::InvalidInput { .. } => {
                usage(e)
            }
            other => (FAILED, other.to_string()),
        })?;
        let progress = Progress::new(r);
        while let Some(event) = run.next().await {
            match event {
                RunEvent::StepStarted { step, .. } => progress.started(step),
                RunEvent::StepFinished { step, succeeded, .. } => progress.finished(step, succeeded),
                RunEvent::StepQueued { .. } | RunEvent::Idle => {}
                RunEvent::Child(child) => {
                    if let RunEvent::Event(event) = &child.event {
                        progress.println(&format!(
                            "event of child {} (run {}): {event}",
                            child.workflow, child.run_id
                        ));
                    }
                }
                RunEvent::Event(event) => {
                    progress.println(&format!("event: {event}"));
                    let kind = event.get("event").and_then(|e| e.as_str()).unwrap_or_default();
                    if r.info().requests.contains(&kind) {
                        let text = match answers.pop_front() {
                            Some(text) => text,
                            None => progress.suspend(|| ask(r, &event))?,
                        };
                        let (event, data) = parse_answer(r, &text)?;
                        run.send_json(&event, data).map_err(|e| match e {
                            SendJsonError::Send(e) => (FAILED, e.to_string()),
                            other => usage(other),
                        })?;
                    }
                }
                RunEvent::Finished(RunOutcome::Stopped) => progress.done("done"),
                RunEvent::Finished(_) => progress.done("failed"),
            }
        }
        let result = run.finish().await.map_err(|e| (FAILED, e.to_string()))?;
        let text = serde_json::to_string_pretty(&result).unwrap_or_default();
        emit(&format!("{text}\n"))
    })
}

/// The answer to `request`, read from standard input: after a prompt on a
/// terminal, as the next line otherwise.
fn ask(r: &Registration, request: &serde_json::Value) -> Result<String, (u8, String)> {
    use std::io::{BufRead, IsTerminal};
    let answers = r.info().answers;
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        let schemas = r.event_schemas();
        let mut prompt = format!("\nthe run asks: {}\n", request.get("data").unwrap_or(request));
        for answer in answers {
            let schema = schemas.iter().find(|(n, _)| n == answer).map(|(_, s)| s.as_value().to_string());
            prompt.push_str(&format!("  answer with {answer}: {}\n", schema.unwrap_or_default()));
        }
        if answers.len() > 1 {
            prompt.push_str("  (several types: write {\"event\": \"Type\", \"data\": ..})\n");
        }
        prompt.push_str("> ");
        eprint!("{prompt}");
        let _ = std::io::stderr().flush();
    }
    let mut line = String::new();
    let read = stdin
        .lock()
        .read_line(&mut line)
        .map_err(|e| (FAILED, format!("cannot read standard input: {e}")))?;
    if read == 0 || line.trim().is_empty() {
        return Err((
            NO_ANSWER,
            format!(
                "the run asks for input ({}) and nothing answered it; give one with --answer JSON, or on \
                 standard input",
                request.get("data").unwrap_or(request)
            ),
        ));
    }
    Ok(line.trim().to_owned())
}

/// An answer's event type and data: `{"event": "Type", "data": ..}`, or the
/// data alone when the workflow takes one answer type.
fn parse_answer(r: &Registration, text: &str) -> Result<(String, serde_json::Value), (u8, String)> {
    let answers = r.info().answers;
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| usage(format!("the answer is not valid JSON: {e}")))?;
    if let Some(object) = value.as_object() {
        if let (2, Some(event), Some(data)) = (object.len(), object.get("event"), object.get("data")) {
            if let Some(event) = event.as_str() {
                return Ok((event.to_owned(), data.clone()));
            }
        }
    }
    match answers {
        [only] => Ok(((*only).to_owned(), value)),
        [] => Err(usage(format!("workflow `{}` takes no answers from the caller", r.name()))),
        several => Err(usage(format!(
            "workflow `{}` takes several answer types ({}); write {{\"event\": \"Type\", \"data\": ..}}",
            r.name(),
            several.join(", ")
        ))),
    }
}

/// One line per step, `name  running 2  done 5`, drawn on standard error
/// when it is a terminal (indicatif hides it otherwise).
struct Progress {
    bars: MultiProgress,
    steps: Vec<StepLine>,
}

/// A step's line: its name, its spinner, and (running, done, failed).
struct StepLine(&'static str, ProgressBar, std::cell::Cell<(u64, u64, u64)>);

impl Progress {
    fn new(r: &Registration) -> Self {
        let bars = MultiProgress::new();
        let style = ProgressStyle::with_template("{spinner} {prefix:<16} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        let steps = r
            .info()
            .steps
            .iter()
            .map(|s| {
                let bar = bars.add(ProgressBar::new_spinner().with_style(style.clone()).with_prefix(s.name));
                bar.set_message("waiting");
                StepLine(s.name, bar, std::cell::Cell::new((0, 0, 0)))
            })
            .collect();
        Self { bars, steps }
    }

    fn update(&self, step: &str, change: impl FnOnce(&mut (u64, u64, u64))) {
        if let Some(StepLine(_, bar, counts)) = self.steps.iter().find(|line| line.0 == step) {
            let mut now = counts.get();
            change(&mut now);
            counts.set(now);
            let (running, done, failed) = now;
            bar.set_message(format!("running {running}  done {done}  failed {failed}"));
            bar.tick();
        }
    }

    fn started(&self, step: &str) {
        self.update(step, |c| c.0 += 1);
    }

    fn finished(&self, step: &str, succeeded: bool) {
        self.update(step, |c| {
            c.0 = c.0.saturating_sub(1);
            if succeeded {
                c.1 += 1;
            } else {
                c.2 += 1;
            }
        });
    }

    fn println(&self, line: &str) {
        if self.bars.is_hidden() {
            eprintln!("{line}");
        } else {
            let _ = self.bars.println(line);
        }
    }

    /// Runs `f` with the progress lines cleared, to prompt on the terminal.
    fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        self.bars.suspend(f)
    }

    fn done(&self, how: &str) {
        for StepLine(_, bar, _) in &self.steps {
            bar.finish_with_message(format!("{} ({how})", bar.message()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serve_binds_to_loopback_unless_told_otherwise() {
        let cli = Cli::try_parse_from(["workflow", "serve"]).unwrap();
        let Command::Serve(ServeArgs { addr, token, allow_origins, db, idle_release, drain, .. }) =
            cli.command
        else {
            panic!("serve")
        };
        assert_eq!(addr, "127.0.0.1:8080");
        assert!(token.is_none() || std::env::var_os("WORKFLOW_SERVER_TOKEN").is_some());
        assert!(allow_origins.is_empty());
        assert_eq!((db.as_str(), idle_release, drain), ("workflow-runs.db", 300, 10));
        let cli = Cli::try_parse_from([
            "workflow",
            "serve",
            "--addr",
            "0.0.0.0:9000",
            "--token",
            "t",
            "--allow-origin",
            "https://a.example",
        ])
        .unwrap();
        let Command::Serve(ServeArgs { addr, token, allow_origins, .. }) = cli.command else {
            panic!("serve")
        };
        assert_eq!((addr.as_str(), token.as_deref(), allow_origins.len()), ("0.0.0.0:9000", Some("t"), 1));
    }
}
