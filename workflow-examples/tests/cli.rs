//! The `workflow` command, tested by running the binary.

use std::process::{Command, Output};

fn workflow(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_workflow")).args(args).output().expect("the binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn list_shows_every_example_workflow() {
    let out = workflow(&["list"]);
    assert!(out.status.success());
    let text = stdout(&out);
    for name in ["Aggregator", "Indexer", "QueryRouter", "Rag", "Refine", "RefundApproval"] {
        assert!(text.lines().any(|l| l.starts_with(name)), "{name} missing:\n{text}");
    }
    assert!(text.contains(
        "Rag<Bm25>       3 steps  StartEvent<String> -> StopEvent<Answer>  (workflow_examples::rag)"
    ));
}

#[test]
fn describe_shows_steps_events_and_schemas() {
    let out = workflow(&["describe", "Refine"]);
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(
        text.contains(
            "  review (workers: 4)\n    takes:   Draft\n    emits:   Feedback, StopEvent<Headline>\n"
        ),
        "{text}"
    );
    assert!(text.contains("events: StartEvent<Brief>, Draft, Feedback, StopEvent<Headline>"), "{text}");
    let schema_start = text.find("input schema (StartEvent<Brief>):\n").unwrap();
    let schema: String =
        text[schema_start..].lines().skip(1).take_while(|l| !l.is_empty()).collect::<Vec<_>>().join("\n");
    let schema: serde_json::Value = serde_json::from_str(&schema).unwrap();
    assert_eq!(schema["required"], serde_json::json!(["text", "max_words", "must_include"]));
}

#[test]
fn draw_writes_mermaid_text_svg_or_a_self_contained_page() {
    let out = workflow(&["draw", "Rag"]);
    assert!(out.status.success());
    assert!(stdout(&out).starts_with("flowchart TD\n"));
    assert!(stdout(&out).contains("n6 --> n3"));

    let page = std::env::temp_dir().join(format!("workflow-draw-{}.html", std::process::id()));
    let out = workflow(&["draw", "QueryRouter", "--format", "html", "--output", page.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let html = std::fs::read_to_string(&page).unwrap();
    std::fs::remove_file(&page).ok();
    assert!(html.starts_with("<!doctype html>"));
    assert!(html.contains("<svg class=\"workflow-graph\""));
    for step in ["route", "simple", "complex"] {
        assert!(html.contains(&format!(">{step}</text>")), "{step}");
    }
    assert!(
        !html.contains("<script") && !html.contains("http://")
            || html.contains("xmlns=\"http://www.w3.org/2000/svg\"")
    );

    let out = workflow(&["draw", "Refine", "--format", "text"]);
    assert_eq!(stdout(&out), "draft: StartEvent<Brief> -> Draft\nreview: Draft -> Feedback | StopEvent<Headline>\nrevise: Feedback -> Draft\n");
}

#[test]
fn run_prints_the_result_as_json() {
    let out = workflow(&["run", "Rag", "--input", "\"How long is the refund window?\""]);
    assert!(out.status.success(), "{}", stderr(&out));
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["sources"], serde_json::json!(["refunds.txt"]));
    assert!(answer["text"].as_str().unwrap().contains("30 days"));
}

#[test]
fn run_prints_streamed_events() {
    let dir = workflow_examples::corpus::bundled_dir().to_str().unwrap().to_owned();
    let out = workflow(&["run", "Indexer", "--input", &serde_json::to_string(&dir).unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let events = stderr(&out).lines().filter(|l| l.starts_with("event: {\"data\":{\"done\":")).count();
    assert_eq!(events, 6, "{}", stderr(&out));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["documents"], 6);
}

#[test]
fn unknown_names_bad_json_and_wrong_fields_fail_with_a_clear_message() {
    let out = workflow(&["run", "Nope", "--input", "1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).starts_with("error: no workflow is called `Nope`; the registered ones are: Aggregator,")
    );

    let out = workflow(&["describe", "Nope"]);
    assert_eq!(out.status.code(), Some(2));

    // Qualified names work wherever a name does.
    let out = workflow(&["describe", "workflow_examples::rag::Rag"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("workflow Rag<Bm25> (workflow_examples::rag)"));

    let out = workflow(&["run", "Rag", "--input", "{oops"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).starts_with("error: the input is not valid JSON: key must be a string"),
        "{}",
        stderr(&out)
    );

    let out = workflow(&[
        "run",
        "Refine",
        "--input",
        r#"{"text": "A b.", "max_words": "five", "must_include": "b"}"#,
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out)
        .contains("invalid input for workflow `Refine` at `max_words`: invalid type: string \"five\""));
}

#[test]
fn a_failing_run_exits_with_one() {
    let out = workflow(&["run", "Rag", "--input", "\"   \""]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out)
        .contains("step `retrieve` of workflow `Rag` failed after 1 attempt(s): the question is empty"));
}

#[test]
fn run_shows_live_progress_in_a_terminal() {
    // `script` gives the command a pseudo-terminal, where indicatif draws.
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: `script` (util-linux) is not installed");
        return;
    }
    let command = format!("{} run Rag --input '\"refund window\"'", env!("CARGO_BIN_EXE_workflow"));
    let out = Command::new("script").args(["-qec", &command, "/dev/null"]).output().unwrap();
    assert!(out.status.success());
    let screen = stdout(&out);
    for step in ["retrieve", "rerank", "synthesize"] {
        assert!(screen.contains(step), "{step} missing from the progress display:\n{screen}");
    }
    assert!(screen.contains("done 1"), "{screen}");
}

const REFUND: &str = r#"{"order": "A1", "amount_cents": 1250, "days_since_delivery": 3}"#;

#[test]
fn a_request_for_input_is_answered_by_the_next_answer() {
    let out = workflow(&["run", "RefundApproval", "--input", REFUND, "--answer", r#"{"response": "yes"}"#]);
    assert!(out.status.success(), "{}", stderr(&out));
    let decision: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(decision, serde_json::json!({ "order": "A1", "refunded_cents": 1250, "approved": true }));
    assert!(stderr(&out).contains(r#"event: {"data":{"request":{"order":"A1""#), "{}", stderr(&out));

    // The full form names the answer type.
    let full = r#"{"event": "HumanResponse<String>", "data": {"response": "no"}}"#;
    let out = workflow(&["run", "RefundApproval", "--input", REFUND, "--answer", full]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains(r#""approved": false"#), "{}", stdout(&out));
}

#[test]
fn without_an_answer_a_request_is_read_from_standard_input() {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_workflow"))
        .args(["run", "RefundApproval", "--input", REFUND])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"{\"response\": \"y\"}\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains(r#""approved": true"#), "{}", stdout(&out));
}

#[test]
fn a_request_nothing_answers_exits_with_three_and_a_bad_answer_with_two() {
    // Standard input is empty: nothing will answer.
    let out = workflow(&["run", "RefundApproval", "--input", REFUND]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("nothing answered it; give one with --answer JSON"), "{}", stderr(&out));

    let wrong = r#"{"event": "HumanResponse<bool>", "data": {"response": true}}"#;
    let out = workflow(&["run", "RefundApproval", "--input", REFUND, "--answer", wrong]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out)
            .contains("takes no `HumanResponse<bool>` from the caller; it takes: HumanResponse<String>"),
        "{}",
        stderr(&out)
    );

    let out = workflow(&["run", "RefundApproval", "--input", REFUND, "--answer", "{oops"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("the answer is not valid JSON"), "{}", stderr(&out));

    let out = workflow(&["run", "RefundApproval", "--input", REFUND, "--answer", r#"{"response": 5}"#]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("invalid `HumanResponse<String>`"), "{}", stderr(&out));
}

#[test]
fn on_a_terminal_a_request_is_a_prompt_showing_the_answer_schema() {
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: `script` (util-linux) is not installed");
        return;
    }
    use std::io::Write;
    let command = format!("{} run RefundApproval --input '{REFUND}'", env!("CARGO_BIN_EXE_workflow"));
    let mut child = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // The terminal takes the line once the prompt is up.
    std::thread::sleep(std::time::Duration::from_millis(500));
    stdin.write_all(b"{\"response\": \"yes\"}\n").unwrap();
    drop(stdin); // then end of input: a run that did not read the line exits with 3
    let out = child.wait_with_output().unwrap();
    let screen = stdout(&out);
    assert!(out.status.success(), "{screen}");
    assert!(screen.contains("the run asks:"), "{screen}");
    assert!(screen.contains("answer with HumanResponse<String>:"), "{screen}");
    assert!(screen.contains(r#""approved": true"#), "{screen}");
}

/// With the `otel` feature (`cargo test -p workflow-examples --features otel`),
/// a run's spans reach the collector named by the standard variable.
#[cfg(feature = "otel")]
#[test]
fn run_sends_its_spans_to_the_collector_in_otel_exporter_otlp_endpoint() {
    let collector = workflow_otel::collector::Collector::start().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_workflow"))
        .args(["run", "QueryRouter", "--input", r#""How long is the refund window?""#])
        .env(workflow_otel::ENDPOINT_VAR, collector.endpoint())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let spans = collector.spans();
    let run = spans.iter().find(|s| s.name == "workflow_run").expect("the run's span");
    assert_eq!((run.attribute("workflow"), run.attribute("outcome")), (Some("QueryRouter"), Some("stopped")));
    assert_eq!(run.service, "workflow");
    assert!(spans.iter().any(|s| s.name == "workflow_step" && s.attribute("step") == Some("route")));

    let bad = Command::new(env!("CARGO_BIN_EXE_workflow"))
        .args(["list"])
        .env(workflow_otel::ENDPOINT_VAR, "localhost:4318")
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2), "a bad endpoint is a usage error");
    assert!(stderr(&bad).contains("is not an http:// or https:// URL"), "{}", stderr(&bad));
}
