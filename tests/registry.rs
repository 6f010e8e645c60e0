//! Discovering workflows: the registry, JSON Schemas, runs from JSON, and
//! diagrams of all flows and of one run's path.

use futures::StreamExt;
use serde_json::json;
use workflow_core::prelude::*;
use workflow_core::registry::{find, registry, StartError};

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
struct Order {
    customer: String,
    items: Vec<Line>,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
struct Line {
    sku: String,
    quantity: u32,
}

#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct Priced {
    total: u32,
    round: u32,
}

/// Prices an order, re-pricing until the total is even (a loop).
#[derive(Default)]
struct Pricing;

#[workflow]
impl Pricing {
    #[step]
    async fn price(&self, ev: StartEvent<Order>) -> Priced {
        Priced { total: ev.input.items.iter().map(|l| l.quantity * 3).sum(), round: 0 }
    }

    #[step(streams = [Priced])]
    async fn check(
        &self,
        ctx: &Context<()>,
        ev: Priced,
    ) -> Result<Emit<(Priced, StopEvent<u32>)>, SendError> {
        ctx.write_event_to_stream(ev.clone());
        if ev.total.is_multiple_of(2) {
            Ok(Emit::new(StopEvent::new(ev.total)))
        } else {
            Ok(Emit::new(Priced { total: ev.total + 1, round: ev.round + 1 }))
        }
    }
}

/// Needs a constructor argument, so the registry cannot build it.
struct Unbuildable(#[allow(dead_code)] u32);

#[workflow]
impl Unbuildable {
    #[step]
    async fn only(&self, ev: StartEvent<u8>) -> StopEvent<u8> {
        StopEvent::new(ev.input)
    }
}

/// Built by a named constructor that can fail.
struct Configured {
    factor: u32,
}

impl Configured {
    fn from_env() -> Result<Self, std::num::ParseIntError> {
        Ok(Self { factor: "7".parse()? })
    }
}

#[workflow(new = Configured::from_env)]
impl Configured {
    #[step]
    async fn times(&self, ev: StartEvent<u32>) -> StopEvent<u32> {
        StopEvent::new(ev.input * self.factor)
    }
}

#[test]
fn every_workflow_in_the_program_is_registered_with_its_graph() {
    let names: Vec<&str> = registry().iter().map(|r| r.name()).collect();
    for name in ["Configured", "Pricing", "Unbuildable"] {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
    let pricing = find("Pricing").unwrap();
    assert_eq!(pricing.module(), "registry");
    let steps: Vec<&str> = pricing.info().steps.iter().map(|s| s.name).collect();
    assert_eq!(steps, ["price", "check"]);
    assert_eq!(pricing.info().steps[1].streams, ["Priced"]);
    assert_eq!(pricing.info().events, ["StartEvent<Order>", "Priced", "StopEvent<u32>"]);
}

#[test]
fn the_registry_exposes_input_output_and_event_schemas() {
    let pricing = find("Pricing").unwrap();
    let input = serde_json::to_value(pricing.input_schema()).unwrap();
    assert_eq!(input["required"], json!(["customer", "items"]));
    assert_eq!(input["properties"]["items"]["items"]["$ref"], json!("#/$defs/Line"));
    assert_eq!(input["$defs"]["Line"]["properties"]["quantity"]["type"], json!("integer"));
    let output = serde_json::to_value(pricing.output_schema()).unwrap();
    assert_eq!(output["type"], json!("integer"));
    let events: Vec<&str> = pricing.event_schemas().iter().map(|(name, _)| *name).collect();
    assert_eq!(events, ["StartEvent<Order>", "Priced", "StopEvent<u32>"]);
    let priced = serde_json::to_value(&pricing.event_schemas()[1].1).unwrap();
    assert_eq!(priced["required"], json!(["total", "round"]));
}

#[tokio::test]
async fn a_registered_workflow_runs_from_json_and_streams_json_events() {
    let input = json!({ "customer": "ada", "items": [{ "sku": "tent", "quantity": 1 }] });
    let mut run = find("Pricing").unwrap().start_json(input, RunOptions::new()).unwrap();
    let mut streamed = Vec::new();
    while let Some(event) = run.next().await {
        if let RunEvent::Event(event) = event {
            streamed.push(event);
        }
    }
    assert_eq!(
        streamed,
        [
            json!({ "event": "Priced", "data": { "total": 3, "round": 0 } }),
            json!({ "event": "Priced", "data": { "total": 4, "round": 1 } })
        ]
    );
    assert_eq!(run.finish().await.unwrap(), json!(4));
}

#[tokio::test]
async fn bad_input_names_the_exact_field_that_is_wrong() {
    let pricing = find("Pricing").unwrap();
    let input = json!({ "customer": "ada", "items": [{ "sku": "tent", "quantity": 1 }, { "sku": "mug", "quantity": "two" }] });
    let err = pricing.start_json(input, RunOptions::new()).unwrap_err();
    let StartError::InvalidInput { workflow, path, message } = &err else { panic!("{err:?}") };
    assert_eq!((*workflow, path.as_str()), ("Pricing", "items[1].quantity"));
    assert!(message.contains("expected u32"), "{message}");
    assert!(
        err.to_string().starts_with("invalid input for workflow `Pricing` at `items[1].quantity`"),
        "{err}"
    );

    let err = pricing.start_json(json!({ "customer": "ada" }), RunOptions::new()).unwrap_err();
    assert!(err.to_string().contains("missing field `items`"), "{err}");
}

#[tokio::test]
async fn unknown_names_and_unbuildable_workflows_are_clear_errors() {
    let err = find("Pricer").unwrap_err();
    assert!(
        err.to_string().starts_with("no workflow is called `Pricer`; the registered ones are: "),
        "{err}"
    );
    assert!(err.to_string().contains("Pricing"));

    let err = find("Unbuildable").unwrap().start_json(json!(1), RunOptions::new()).unwrap_err();
    assert!(matches!(err, StartError::NotConstructible { workflow: "Unbuildable" }), "{err:?}");
    assert!(err.to_string().contains("implement `Default`"), "{err}");
}

#[tokio::test]
async fn a_named_constructor_builds_the_workflow() {
    let run = find("Configured").unwrap().start_json(json!(6), RunOptions::new()).unwrap();
    assert_eq!(run.finish().await.unwrap(), json!(42));
}

#[test]
fn mermaid_of_all_flows_snapshot() {
    assert_eq!(
        Pricing::mermaid(),
        r#"flowchart TD
    n0((("StartEvent#lt;Order#gt;")))
    n1(["Priced"])
    n2((("StopEvent#lt;u32#gt;")))
    n3["price"]
    n4["check"]
    n5[/"caller"/]
    n0 --> n3
    n3 --> n1
    n1 --> n4
    n4 --> n1
    n4 --> n2
    n4 -.-> n1
    n1 -.-> n5
"#
    );
    assert_eq!(Pricing::mermaid(), <Pricing as workflow_core::Workflow>::INFO.mermaid);
}

#[tokio::test]
async fn mermaid_of_one_run_marks_the_path_taken_with_counts() {
    let order = Order { customer: "ada".into(), items: vec![Line { sku: "tent".into(), quantity: 1 }] };
    let handler = Pricing.start_with(order, RunOptions::new().trace(true));
    let trace = handler.trace();
    assert!(trace.mermaid().is_none(), "nothing to draw before the run ends");
    assert_eq!(handler.await.unwrap(), 4);
    // price ran once; check ran twice (3 is odd, so it looped once to 4).
    assert_eq!(trace.get().unwrap().invocations, [1, 2]);
    assert_eq!(
        trace.mermaid().unwrap(),
        r#"flowchart TD
    n0((("StartEvent#lt;Order#gt;")))
    n1(["Priced"])
    n2((("StopEvent#lt;u32#gt;")))
    n3["price ×1"]
    n4["check ×2"]
    n5[/"caller"/]
    n0 ==>|"×1"| n3
    n3 ==>|"×1"| n1
    n1 ==>|"×2"| n4
    n4 ==>|"×1"| n1
    n4 ==>|"×1"| n2
    n4 -. "×2" .-> n1
    n1 -. "×2" .-> n5
    linkStyle 0,1,2,3,4,5,6 stroke:#d9480f,stroke-width:3px
"#
    );
    let svg = trace.svg().unwrap();
    assert!(svg.contains(">×2</text>"));
    // Each step says how often it ran.
    assert!(svg.contains("class=\"wf-count\"") && svg.matches("class=\"wf-count\"").count() == 2, "{svg}");
}

// ------------------------------------------------------------ one name, two workflows

mod v1 {
    use workflow_core::prelude::*;

    #[derive(Default)]
    pub struct Twin;

    #[workflow]
    impl Twin {
        #[step]
        async fn only(&self, ev: StartEvent<u32>) -> StopEvent<u32> {
            StopEvent::new(ev.input + 1)
        }
    }
}

mod v2 {
    use workflow_core::prelude::*;

    #[derive(Default)]
    pub struct Twin;

    #[workflow]
    impl Twin {
        #[step]
        async fn only(&self, ev: StartEvent<u32>) -> StopEvent<u32> {
            StopEvent::new(ev.input + 2)
        }
    }
}

#[tokio::test]
async fn a_shared_name_is_an_error_listing_qualified_names_which_work_anywhere() {
    let err = find("Twin").unwrap_err();
    let StartError::Ambiguous { candidates, .. } = &err else { panic!("{err:?}") };
    assert_eq!(candidates, &["registry::v1::Twin", "registry::v2::Twin"]);
    assert!(err.to_string().contains("2 workflows are called `Twin`"), "{err}");

    let v1 = find("v1::Twin").unwrap();
    assert_eq!(v1.start_json(json!(1), RunOptions::new()).unwrap().finish().await.unwrap(), json!(2));
    let v2 = find("registry::v2::Twin").unwrap();
    assert_eq!(v2.start_json(json!(1), RunOptions::new()).unwrap().finish().await.unwrap(), json!(3));
    assert!(matches!(find("v3::Twin"), Err(StartError::Unknown { .. })));
}
