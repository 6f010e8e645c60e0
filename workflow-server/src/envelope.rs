//! How a workflow's events look on the wire: LlamaIndex's envelope
//! `{"value", "qualified_name", "type", "types"}`, both ways.
//!
//! A user event `Greeted` is `type: "Greeted"`. The library's wrappers look
//! like LlamaIndex's own kinds: `StartEvent<InputEvent>` like a custom start
//! event (`type: "InputEvent"`, `types: ["StartEvent"]`, the input's fields
//! as `value`), `StartEvent<String>` like the plain one (`type:
//! "StartEvent"`, `value: {"input": ..}`); likewise `StopEvent<T>`
//! (`result`), `InputRequired<T>` (`InputRequiredEvent`) and
//! `HumanResponse<T>` (`HumanResponseEvent`). A wrapper's payload is
//! unwrapped when it is a named type of the user's (a struct, whose JSON is
//! an object). Types that would share a name in one workflow
//! (`HumanResponse<String>`, `HumanResponse<bool>`) get their full name
//! instead (`HumanResponse_String`), so that the schema titles the debugger
//! sends back as `type` stay unique.

use serde_json::{json, Map, Value};
use workflow_core::workflow::WorkflowInfo;

/// The library's wrappers: their name, the field holding the payload, and
/// the LlamaIndex kind they stand for.
const WRAPPERS: [(&str, &str, &str); 4] = [
    ("StartEvent", "input", "StartEvent"),
    ("StopEvent", "result", "StopEvent"),
    ("InputRequired", "request", "InputRequiredEvent"),
    ("HumanResponse", "response", "HumanResponseEvent"),
];

/// Types that are no user type of their own, so a wrapper of one is not unwrapped.
const STD_TYPES: [&str; 14] = [
    "String", "Value", "Vec", "Option", "Box", "HashMap", "BTreeMap", "HashSet", "BTreeSet", "Arc", "Rc",
    "Cow", "Duration", "PathBuf",
];

/// One event type of a workflow, as the wire shows it.
#[derive(Clone, Debug)]
pub(crate) struct Kind {
    /// Its name in the workflow's graph (`StartEvent<InputEvent>`).
    pub(crate) key: &'static str,
    /// `type`.
    pub(crate) name: String,
    /// `types`: the LlamaIndex kinds it is a variant of.
    pub(crate) types: Option<Vec<&'static str>>,
    /// The wrapper field whose content is the envelope's `value`.
    pub(crate) unwrap: Option<&'static str>,
    pub(crate) qualified_name: String,
}

/// Why an event sent in could not be read.
#[derive(Debug, PartialEq)]
pub(crate) enum DecodeError {
    NoEvent,
    Malformed(String),
    UnknownType { name: String, expected: Vec<String> },
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::NoEvent => f.write_str("No event given"),
            DecodeError::Malformed(why) => write!(f, "Invalid event: {why}"),
            DecodeError::UnknownType { name, expected } => {
                write!(f, "Invalid event type: {name}. Expected one of {}", expected.join(", "))
            }
        }
    }
}

/// The wire forms of one workflow's events.
#[derive(Clone, Debug)]
pub(crate) struct Envelopes {
    pub(crate) kinds: Vec<Kind>,
    start: usize,
    stop: usize,
}

/// `StartEvent<X>` (or `workflow_core::StartEvent<X>`) → (`StartEvent`, `X`).
fn split_wrapper(key: &str) -> Option<(&str, &str)> {
    let (outer, rest) = key.split_once('<')?;
    Some((last_segment(outer), rest.strip_suffix('>')?))
}

/// Whether `ty` names a type of the user's own: a path to a capitalized
/// name, without type arguments, that is not a standard container.
fn is_named(ty: &str) -> bool {
    let last = ty.rsplit("::").next().unwrap_or(ty);
    !ty.contains('<')
        && last.chars().next().is_some_and(char::is_uppercase)
        && !STD_TYPES.contains(&last)
        && last.chars().all(|c| c.is_alphanumeric() || c == '_')
}

fn last_segment(ty: &str) -> &str {
    ty.rsplit("::").next().unwrap_or(ty)
}

/// A name made of `key`'s letters, digits and underscores, its paths left
/// out: `workflow_core::HumanResponse<bool>` is `HumanResponse_bool`.
fn sanitized(key: &str) -> String {
    let mut short = String::new();
    let mut rest = key;
    while let Some(at) = rest.find("::") {
        let before = &rest[..at];
        // Keep what precedes the path's first segment (`<`, `, `).
        let kept = before.trim_end_matches(|c: char| c.is_alphanumeric() || c == '_');
        short.push_str(kept);
        rest = &rest[at + 2..];
    }
    short.push_str(rest);
    let mut out = String::new();
    for c in short.chars() {
        if c.is_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    out.trim_matches('_').to_owned()
}

impl Envelopes {
    /// The wire forms of `info`'s events; user types are qualified with `module`.
    pub(crate) fn new(info: &'static WorkflowInfo, module: &str) -> Self {
        let module = module.replace("::", ".");
        let mut kinds: Vec<Kind> = info
            .events
            .iter()
            .map(|&key| {
                let is_start = key == info.start;
                let is_stop = key == info.stop;
                match split_wrapper(key).and_then(|(outer, inner)| {
                    WRAPPERS.iter().find(|(w, _, _)| *w == outer).map(|w| (*w, inner))
                }) {
                    Some(((_, field, kind), inner)) if is_named(inner) => Kind {
                        key,
                        name: last_segment(inner).to_owned(),
                        types: Some(vec![kind]),
                        unwrap: Some(field),
                        qualified_name: format!("{module}.{}", last_segment(inner)),
                    },
                    Some(((_, _, kind), _)) => Kind {
                        key,
                        name: kind.to_owned(),
                        // LlamaIndex's plain start and stop events are no variant of anything.
                        types: (!matches!(kind, "StartEvent" | "StopEvent")).then(|| vec![kind]),
                        unwrap: None,
                        qualified_name: format!("workflows.events.{kind}"),
                    },
                    None => {
                        let kind = if is_start {
                            Some("StartEvent")
                        } else if is_stop {
                            Some("StopEvent")
                        } else if info.requests.contains(&key) {
                            Some("InputRequiredEvent")
                        } else if info.answers.contains(&key) && key != "StepFailed" {
                            Some("HumanResponseEvent")
                        } else {
                            None
                        };
                        Kind {
                            key,
                            name: last_segment(key).to_owned(),
                            types: kind.map(|k| vec![k]),
                            unwrap: None,
                            qualified_name: format!("{module}.{}", last_segment(key)),
                        }
                    }
                }
            })
            .collect();
        // Names that two types would share: each takes its full name.
        let names: Vec<String> = kinds.iter().map(|k| k.name.clone()).collect();
        for kind in &mut kinds {
            if names.iter().filter(|n| **n == kind.name).count() > 1 {
                kind.name = sanitized(kind.key);
            }
        }
        let index = |key: &str| kinds.iter().position(|k| k.key == key).unwrap_or(0);
        let (start, stop) = (index(info.start), index(info.stop));
        Self { kinds, start, stop }
    }

    pub(crate) fn kind(&self, key: &str) -> Option<&Kind> {
        self.kinds.iter().find(|k| k.key == key)
    }

    pub(crate) fn start(&self) -> &Kind {
        &self.kinds[self.start]
    }

    pub(crate) fn stop(&self) -> &Kind {
        &self.kinds[self.stop]
    }

    /// The envelope of an event of type `key` whose JSON is `data`.
    pub(crate) fn encode(&self, key: &str, data: &Value) -> Value {
        match self.kind(key) {
            Some(kind) => {
                let value = match kind.unwrap {
                    Some(field) => data.get(field).cloned().unwrap_or(Value::Null),
                    None => data.clone(),
                };
                envelope(value, &kind.qualified_name, &kind.name, kind.types.as_deref())
            }
            None => envelope(data.clone(), key, key, None),
        }
    }

    /// The envelope of the stop event of a run whose output (what `run`
    /// returns) is `output`.
    pub(crate) fn encode_stop(&self, output: &Value) -> Value {
        let kind = self.stop();
        let data = match (kind.unwrap, split_wrapper(kind.key)) {
            // `StopEvent<T>`: the output is `T`.
            (_, Some(("StopEvent", _))) => json!({ "result": output }),
            _ => output.clone(),
        };
        self.encode(kind.key, &data)
    }

    /// The output (what `run` returns) in a stop event's envelope value:
    /// `/results` shows it bare.
    pub(crate) fn bare_result(&self, envelope: &Value) -> Value {
        let value = envelope.get("value").cloned().unwrap_or(Value::Null);
        match (self.stop().unwrap, split_wrapper(self.stop().key)) {
            (None, Some(("StopEvent", _))) => value.get("result").cloned().unwrap_or(Value::Null),
            _ => value,
        }
    }

    /// The kind an incoming event names: by `type` among the workflow's own
    /// types, then by `qualified_name`.
    fn lookup(&self, name: Option<&str>, qualified: Option<&str>) -> Result<&Kind, DecodeError> {
        let by_name = name.and_then(|n| self.kinds.iter().find(|k| k.name == n));
        let by_qualified = || {
            let q = qualified?;
            self.kinds.iter().find(|k| k.qualified_name == q || k.name == q.rsplit('.').next().unwrap_or(q))
        };
        by_name.or_else(by_qualified).ok_or_else(|| DecodeError::UnknownType {
            name: name.or(qualified).unwrap_or("<none>").to_owned(),
            expected: self.kinds.iter().map(|k| k.name.clone()).collect(),
        })
    }

    /// Reads an event sent in, in any of the four forms clients send: an
    /// envelope object, the same as a JSON string (with `data` for
    /// `value`), a legacy `__is_pydantic` object, or (if `bare` names a
    /// kind, for start events) the event's fields alone. Gives the event's
    /// type and its JSON as the workflow reads it.
    pub(crate) fn decode(
        &self,
        event: &Value,
        bare: Option<&Kind>,
    ) -> Result<(&'static str, Value), DecodeError> {
        let parsed;
        let event = match event {
            Value::Null => return Err(DecodeError::NoEvent),
            Value::String(text) => {
                parsed = serde_json::from_str::<Value>(text)
                    .map_err(|e| DecodeError::Malformed(format!("the event string is not JSON: {e}")))?;
                &parsed
            }
            other => other,
        };
        let Value::Object(fields) = event else {
            return Err(DecodeError::Malformed(format!("an event is a JSON object, not {event}")));
        };
        let text = |key: &str| fields.get(key).and_then(Value::as_str);
        let is_envelope = fields.contains_key("type") || fields.contains_key("qualified_name");
        let (kind, value) = if is_envelope {
            let kind = self.lookup(text("type"), text("qualified_name"))?;
            let value = fields.get("value").or_else(|| fields.get("data")).cloned().unwrap_or(json!({}));
            (kind, value)
        } else if let Some(kind) = bare {
            (kind, event.clone())
        } else {
            return Err(DecodeError::Malformed("the event has no `type`".into()));
        };
        let value = flatten_extra_fields(value);
        let data = match kind.unwrap {
            Some(field) => {
                let mut wrapped = Map::new();
                wrapped.insert(field.to_owned(), value);
                Value::Object(wrapped)
            }
            None => value,
        };
        Ok((kind.key, data))
    }

    /// The JSON Schema of `kind`'s envelope value, titled with its `type`,
    /// from the schema of its event type.
    pub(crate) fn schema(&self, kind: &Kind, event_schema: &Value) -> Value {
        let mut schema = match kind.unwrap {
            Some(field) => unwrapped_schema(event_schema, field),
            None => event_schema.clone(),
        };
        if let Value::Object(map) = &mut schema {
            map.insert("title".into(), Value::String(kind.name.clone()));
        }
        nullable_as_any_of(&mut schema);
        schema
    }
}

/// Writes `"type": ["string", "null"]` (how schemars gives an `Option`) as
/// `"anyOf": [{"type": "string"}, {"type": "null"}]`, as pydantic does:
/// LlamaIndex's debugger reads `type` as one string and fails on a list.
fn nullable_as_any_of(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            if let Some(Value::Array(types)) = map.get("type").cloned() {
                map.remove("type");
                let variants = types.into_iter().map(|t| json!({ "type": t })).collect();
                map.insert("anyOf".into(), Value::Array(variants));
            }
            map.values_mut().for_each(nullable_as_any_of);
        }
        Value::Array(items) => items.iter_mut().for_each(nullable_as_any_of),
        _ => {}
    }
}

/// LlamaIndex keeps the fields an event class does not declare (all of
/// them, for a plain `StartEvent(input=5)`) under `_data`: they are the
/// event's fields all the same.
fn flatten_extra_fields(value: Value) -> Value {
    let Value::Object(mut map) = value else { return value };
    // Until none is left, so that reading an event twice gives one result.
    while let Some(Value::Object(extra)) = map.get("_data").cloned() {
        map.remove("_data");
        for (key, field) in extra {
            map.entry(key).or_insert(field);
        }
    }
    Value::Object(map)
}

/// The schema of field `field` of `schema`, as a root schema (a `$ref` to
/// one of its `$defs` is taken in, the other definitions kept).
fn unwrapped_schema(schema: &Value, field: &str) -> Value {
    let property = schema.pointer(&format!("/properties/{field}")).cloned().unwrap_or(json!({}));
    let defs = schema.get("$defs").cloned();
    let mut root = match property.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix("#/$defs/"))
    {
        Some(name) => defs.as_ref().and_then(|d| d.get(name)).cloned().unwrap_or(property),
        None => property,
    };
    if let (Value::Object(map), Some(defs)) = (&mut root, defs) {
        map.entry("$defs").or_insert(defs);
    }
    if let (Value::Object(map), Some(dialect)) = (&mut root, schema.get("$schema")) {
        map.entry("$schema").or_insert(dialect.clone());
    }
    root
}

/// `{"value", "qualified_name", "type", "types"}`.
pub(crate) fn envelope(value: Value, qualified_name: &str, name: &str, types: Option<&[&str]>) -> Value {
    json!({ "value": value, "qualified_name": qualified_name, "type": name, "types": types })
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_list_of_types_is_written_as_any_of() {
        let mut schema = json!({
            "type": "object",
            "properties": { "note": { "type": ["string", "null"] }, "n": { "type": "integer" } },
        });
        super::nullable_as_any_of(&mut schema);
        assert_eq!(
            schema["properties"]["note"],
            json!({ "anyOf": [{ "type": "string" }, { "type": "null" }] })
        );
        assert_eq!(schema["properties"]["n"], json!({ "type": "integer" }));
        assert_eq!(schema["type"], "object");
    }

    use super::*;
    use workflow_core::workflow::{Route, WorkflowInfo};

    fn info(
        events: &'static [&'static str],
        requests: &'static [&'static str],
        answers: &'static [&'static str],
    ) -> &'static WorkflowInfo {
        Box::leak(Box::new(WorkflowInfo {
            name: "Flow",
            start: events[0],
            stop: events[events.len() - 1],
            events,
            steps: &[],
            routes: Box::leak(
                (0..events.len())
                    .map(|_| Route { steps: &[], collectors: &[], request: false, stop: false })
                    .collect::<Vec<_>>()
                    .into_boxed_slice(),
            ),
            step_failed: None,
            answers,
            requests,
            mermaid: "",
            num_concurrent_runs: None,
        }))
    }

    #[test]
    fn wrappers_of_named_types_look_like_custom_events_and_others_like_the_plain_ones() {
        let envelopes = Envelopes::new(
            info(
                &[
                    "StartEvent<InputEvent>",
                    "Greeted",
                    "InputRequired<String>",
                    "HumanResponse<String>",
                    "StopEvent<String>",
                ],
                &["InputRequired<String>"],
                &["HumanResponse<String>"],
            ),
            "app::flows",
        );
        let names: Vec<(&str, Option<Vec<&str>>)> =
            envelopes.kinds.iter().map(|k| (k.name.as_str(), k.types.clone())).collect();
        assert_eq!(
            names,
            [
                ("InputEvent", Some(vec!["StartEvent"])),
                ("Greeted", None),
                ("InputRequiredEvent", Some(vec!["InputRequiredEvent"])),
                ("HumanResponseEvent", Some(vec!["HumanResponseEvent"])),
                ("StopEvent", None),
            ]
        );
        let start = envelopes.encode("StartEvent<InputEvent>", &json!({"input": {"name": "Ada"}}));
        assert_eq!(
            start,
            json!({"value": {"name": "Ada"}, "qualified_name": "app.flows.InputEvent", "type": "InputEvent", "types": ["StartEvent"]})
        );
        let stop = envelopes.encode_stop(&json!("hi Ada"));
        assert_eq!(stop["value"], json!({"result": "hi Ada"}));
        assert_eq!(stop["qualified_name"], "workflows.events.StopEvent");
        assert_eq!(envelopes.bare_result(&stop), json!("hi Ada"));
    }

    #[test]
    fn names_two_types_would_share_become_full_names() {
        let envelopes = Envelopes::new(
            info(
                &["StartEvent<()>", "HumanResponse<String>", "HumanResponse<bool>", "StopEvent<Out>"],
                &[],
                &["HumanResponse<String>", "HumanResponse<bool>"],
            ),
            "m",
        );
        let names: Vec<&str> = envelopes.kinds.iter().map(|k| k.name.as_str()).collect();
        assert_eq!(names, ["StartEvent", "HumanResponse_String", "HumanResponse_bool", "Out"]);
        assert_eq!(
            sanitized("workflow_core::HumanResponse<std::collections::BTreeMap<String, a::B>>"),
            "HumanResponse_BTreeMap_String_B"
        );
        let stop = envelopes.encode_stop(&json!({"greeting": "hi"}));
        assert_eq!((stop["type"].clone(), stop["value"].clone()), (json!("Out"), json!({"greeting": "hi"})));
        assert_eq!(envelopes.bare_result(&stop), json!({"greeting": "hi"}));
    }

    #[test]
    fn every_form_clients_send_is_read() {
        let envelopes = Envelopes::new(
            info(
                &["StartEvent<InputEvent>", "Answer", "HumanResponse<String>", "StopEvent<String>"],
                &[],
                &["Answer", "HumanResponse<String>"],
            ),
            "m",
        );
        let start = Some(envelopes.start());
        let expect = |key: &'static str, data: Value| Ok((key, data));
        assert_eq!(
            envelopes.decode(
                &json!({"value": {"a": 1}, "type": "Answer", "types": null, "qualified_name": "x.Answer"}),
                None
            ),
            expect("Answer", json!({"a": 1}))
        );
        assert_eq!(
            envelopes.decode(&json!("{\"type\":\"Answer\",\"data\":{\"a\":2}}"), None),
            expect("Answer", json!({"a": 2}))
        );
        assert_eq!(
            envelopes.decode(
                &json!({"__is_pydantic": true, "value": {"a": 3}, "qualified_name": "app.Answer"}),
                None
            ),
            expect("Answer", json!({"a": 3}))
        );
        assert_eq!(
            envelopes.decode(&json!({"name": "Ada"}), start),
            expect("StartEvent<InputEvent>", json!({"input": {"name": "Ada"}}))
        );
        // Python's `Event(answer=..)` undeclared fields arrive under `_data`.
        assert_eq!(
            envelopes.decode(&json!({"value": {"_data": {"a": 4}}, "type": "Answer"}), None),
            expect("Answer", json!({"a": 4}))
        );
        assert_eq!(
            envelopes.decode(&json!({"value": {"response": "yes"}, "type": "HumanResponseEvent"}), None),
            expect("HumanResponse<String>", json!({"response": "yes"}))
        );
        let unknown = envelopes.decode(&json!({"value": {}, "type": "Nope"}), None).unwrap_err();
        assert_eq!(
            unknown.to_string(),
            "Invalid event type: Nope. Expected one of InputEvent, Answer, HumanResponseEvent, StopEvent"
        );
        assert_eq!(envelopes.decode(&Value::Null, None), Err(DecodeError::NoEvent));
        assert!(matches!(envelopes.decode(&json!("{not json"), None), Err(DecodeError::Malformed(_))));
        assert!(
            matches!(envelopes.decode(&json!({"a": 1}), None), Err(DecodeError::Malformed(_))),
            "no type, not a start event"
        );
    }

    #[test]
    fn an_unwrapped_schema_is_the_payloads_with_the_envelope_title() {
        let envelopes = Envelopes::new(info(&["StartEvent<InputEvent>", "StopEvent<String>"], &[], &[]), "m");
        let event_schema = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "StartEvent_for_InputEvent",
            "type": "object",
            "properties": {"input": {"$ref": "#/$defs/InputEvent"}},
            "$defs": {"InputEvent": {"type": "object", "properties": {"name": {"type": "string"}}}}
        });
        let schema = envelopes.schema(envelopes.start(), &event_schema);
        assert_eq!(schema["title"], "InputEvent");
        assert_eq!(schema["properties"]["name"]["type"], "string");
        assert!(schema.get("$schema").is_some());
    }
}
