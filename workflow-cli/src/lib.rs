//! The `workflow` command for the workflows linked into a program: `list`,
//! `describe NAME`, `draw NAME` and `run NAME --input JSON`.
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
use workflow_core::{find, registry, Registration, RunEvent, RunOptions, RunOutcome, StartError};

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
    },
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

/// Exit code for a run that failed.
const FAILED: u8 = 1;
/// Exit code for a bad command: unknown workflow, bad JSON, wrong input.
const USAGE: u8 = 2;

/// Parses the command line and runs the command; the process's exit code.
pub fn main() -> ExitCode {
    run(Cli::parse())
}

/// Runs one parsed command.
pub fn run(cli: Cli) -> ExitCode {
    let result = match cli.command {
        Command::List => list(),
        Command::Describe { name } => describe(&name),
        Command::Draw { name, format, output } => draw(&name, format, output),
        Command::Run { name, input, timeout } => execute(&name, &input, timeout),
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

fn execute(name: &str, input: &str, timeout: Option<f64>) -> Outcome {
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
                RunEvent::Event(event) => progress.println(&format!("event: {event}")),
                RunEvent::Finished(RunOutcome::Stopped) => progress.done("done"),
                RunEvent::Finished(_) => progress.done("failed"),
            }
        }
        let result = run.finish().await.map_err(|e| (FAILED, e.to_string()))?;
        let text = serde_json::to_string_pretty(&result).unwrap_or_default();
        emit(&format!("{text}\n"))
    })
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

    fn done(&self, how: &str) {
        for StepLine(_, bar, _) in &self.steps {
            bar.finish_with_message(format!("{} ({how})", bar.message()));
        }
    }
}
