//! The property the envelope fuzzer checks (`scripts/fuzz-envelopes`): for
//! any bytes a client sends as an event, reading them never panics, and an
//! event that is read is read again the same from the envelope the server
//! writes for it.

use serde_json::Value;
use workflow_core::workflow::{Route, WorkflowInfo};

use crate::envelope::Envelopes;

/// A workflow with every kind of event: typed and plain wrappers, a
/// custom type, a request and an answer, names that collide.
fn envelopes() -> &'static Envelopes {
    static ENVELOPES: std::sync::OnceLock<Envelopes> = std::sync::OnceLock::new();
    ENVELOPES.get_or_init(|| {
        const EVENTS: &[&str] = &[
            "StartEvent<InputEvent>",
            "Greeted",
            "workflow_core::InputRequired<String>",
            "HumanResponse<String>",
            "HumanResponse<bool>",
            "Asked",
            "StopEvent<Vec<String>>",
        ];
        let routes: Vec<Route> = EVENTS
            .iter()
            .map(|_| Route { steps: &[], collectors: &[], request: false, stop: false })
            .collect();
        let info: &'static WorkflowInfo = Box::leak(Box::new(WorkflowInfo {
            name: "Fuzzed",
            start: EVENTS[0],
            stop: EVENTS[EVENTS.len() - 1],
            events: EVENTS,
            steps: &[],
            routes: Box::leak(routes.into_boxed_slice()),
            step_failed: None,
            answers: &["HumanResponse<String>", "HumanResponse<bool>"],
            requests: &["Asked"],
            mermaid: "",
            num_concurrent_runs: None,
        }));
        Envelopes::new(info, "fuzz")
    })
}

/// The types the fuzzer's envelopes name (and mutates).
pub fn type_names() -> Vec<String> {
    envelopes().kinds.iter().map(|k| k.name.clone()).collect()
}

/// What reading `input` (as JSON, else as a string) gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    Read,
    Refused,
}

/// Reads `input` as an event, as a start event too, and checks that each
/// event read round-trips; panics (the fuzzer's failure) if not.
pub fn check(input: &[u8]) -> Outcome {
    let envelopes = envelopes();
    let value = serde_json::from_slice::<Value>(input)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(input).into_owned()));
    let mut outcome = Outcome::Refused;
    for bare in [None, Some(envelopes.start())] {
        if let Ok((key, data)) = envelopes.decode(&value, bare) {
            outcome = Outcome::Read;
            let written = envelopes.encode(key, &data);
            let again = envelopes.decode(&written, None);
            assert_eq!(
                again.as_ref().map(|(k, d)| (*k, d)),
                Ok((key, &data)),
                "read {value} as `{key}` {data}, wrote {written}, read that back differently"
            );
        }
    }
    outcome
}
