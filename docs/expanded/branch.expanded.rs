// @generated from branch.rs by the expansion snapshot test of workflow-macros.
use workflow_core::prelude::*;
#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct Checked {
    pub attempt: u32,
}
pub struct Answerer;
impl Answerer {
    async fn begin(&self, ev: StartEvent<String>) -> Checked {
        let _ = ev;
        Checked { attempt: 0 }
    }
    async fn check(
        &self,
        ctx: &::workflow_core::Context<u32, AnswererEvent>,
        ev: Checked,
    ) -> Result<Emit<(Checked, StopEvent<String>)>, std::io::Error> {
        ctx.update(|n| *n += 1);
        if ev.attempt < 2 {
            Ok(Emit::new(Checked { attempt: ev.attempt + 1 }))
        } else {
            Ok(Emit::new(StopEvent::new(format!("done after {}", ev.attempt))))
        }
    }
}
#[doc(hidden)]
#[allow(non_upper_case_globals)]
const __WORKFLOW_INFO_Answerer: &'static ::workflow_core::__private::WorkflowInfo = &::workflow_core::__private::WorkflowInfo {
    name: "Answerer",
    start: "StartEvent<String>",
    stop: "StopEvent<String>",
    events: &["StartEvent<String>", "Checked", "StopEvent<String>"],
    steps: &[
        ::workflow_core::__private::StepInfo {
            name: "begin",
            accepts: &["StartEvent<String>"],
            emits: &["Checked"],
            streams: &[],
            num_workers: 4usize,
            fan_in: &[],
            waits: &[],
        },
        ::workflow_core::__private::StepInfo {
            name: "check",
            accepts: &["Checked"],
            emits: &["Checked", "StopEvent<String>"],
            streams: &[],
            num_workers: 2usize,
            fan_in: &[],
            waits: &[],
        },
    ],
    mermaid: "flowchart TD\n    n0(((\"StartEvent#lt;String#gt;\")))\n    n1([\"Checked\"])\n    n2(((\"StopEvent#lt;String#gt;\")))\n    n3[\"begin\"]\n    n4[\"check\"]\n    n0 --> n3\n    n3 --> n1\n    n1 --> n4\n    n4 --> n1\n    n4 --> n2\n",
};
/**# Workflow graph

The steps of `Answerer` (boxes) and the events between them (rounded; start and stop in green), as `#[workflow]` read them from the step signatures. Dashed arrows go to the caller's stream.

<svg class="workflow-graph" xmlns="http://www.w3.org/2000/svg" width="238" height="416" viewBox="0 0 238 416" role="img" font-family="sans-serif" font-size="12"><defs><marker id="wf-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="currentColor"/></marker></defs><path d="M94.8,48.0 C94.8,76.0 94.8,76.0 94.8,104.0" fill="none" stroke="currentColor" stroke-width="1.2" marker-end="url(#wf-arrow)" opacity="0.8"/><path d="M94.8,136.0 C94.8,164.0 94.8,164.0 94.8,192.0" fill="none" stroke="currentColor" stroke-width="1.2" marker-end="url(#wf-arrow)" opacity="0.8"/><path d="M94.8,224.0 C94.8,252.0 94.8,252.0 94.8,280.0" fill="none" stroke="currentColor" stroke-width="1.2" marker-end="url(#wf-arrow)" opacity="0.8"/><path d="M126.8,296.0 C217.6,296.0 217.6,208.0 134.0,208.0" fill="none" stroke="currentColor" stroke-width="1.2" marker-end="url(#wf-arrow)" opacity="0.8"/><path d="M94.8,312.0 C94.8,340.0 94.8,340.0 94.8,368.0" fill="none" stroke="currentColor" stroke-width="1.2" marker-end="url(#wf-arrow)" opacity="0.8"/><g class="wf-start"><rect x="16.0" y="16.0" width="157.6" height="32.0" rx="16.0" fill="#2f9e44" fill-opacity="0.14" stroke="#2f9e44" stroke-width="1.5"/><text x="94.8" y="32.0" text-anchor="middle" dominant-baseline="central" fill="currentColor" font-weight="bold">StartEvent&lt;String&gt;</text></g><g class="wf-event"><rect x="55.6" y="192.0" width="78.4" height="32.0" rx="16.0" fill="#868e96" fill-opacity="0.14" stroke="#868e96" stroke-width="1.5"/><text x="94.8" y="208.0" text-anchor="middle" dominant-baseline="central" fill="currentColor" font-weight="normal">Checked</text></g><g class="wf-stop"><rect x="19.6" y="368.0" width="150.4" height="32.0" rx="16.0" fill="#2f9e44" fill-opacity="0.14" stroke="#2f9e44" stroke-width="1.5"/><text x="94.8" y="384.0" text-anchor="middle" dominant-baseline="central" fill="currentColor" font-weight="bold">StopEvent&lt;String&gt;</text></g><g class="wf-step"><rect x="62.8" y="104.0" width="64.0" height="32.0" rx="3.0" fill="#1c7ed6" fill-opacity="0.14" stroke="#1c7ed6" stroke-width="1.5"/><text x="94.8" y="120.0" text-anchor="middle" dominant-baseline="central" fill="currentColor" font-weight="bold">begin</text></g><g class="wf-step"><rect x="62.8" y="280.0" width="64.0" height="32.0" rx="3.0" fill="#1c7ed6" fill-opacity="0.14" stroke="#1c7ed6" stroke-width="1.5"/><text x="94.8" y="296.0" text-anchor="middle" dominant-baseline="central" fill="currentColor" font-weight="bold">check</text></g></svg>

<details><summary>The graph as text</summary>

```text
begin: StartEvent<String> -> Checked
check: Checked -> Checked | StopEvent<String>
```

</details>
*/
impl Answerer {
    /// The graph of every flow this workflow allows, as a mermaid `flowchart`.
    pub fn mermaid() -> &'static str {
        __WORKFLOW_INFO_Answerer.mermaid
    }
}
///Every event of workflow [`Answerer`], one variant per type; generated by `#[workflow]`.
#[derive(::core::clone::Clone, ::core::fmt::Debug)]
#[allow(private_interfaces)]
pub enum AnswererEvent {
    ///`StartEvent<String>`
    StartEvent(StartEvent<String>),
    ///`Checked`
    Checked(Checked),
    ///`StopEvent<String>`
    StopEvent(StopEvent<String>),
}
///The steps of workflow [`Answerer`], to name one in `ctx.send_event_to`; generated by `#[workflow]`.
#[derive(
    ::core::clone::Clone,
    ::core::marker::Copy,
    ::core::fmt::Debug,
    ::core::cmp::PartialEq,
    ::core::cmp::Eq
)]
pub enum AnswererStep {
    ///Step `begin`.
    Begin,
    ///Step `check`.
    Check,
}
impl ::core::convert::From<StartEvent<String>> for AnswererEvent {
    fn from(event: StartEvent<String>) -> Self {
        AnswererEvent::StartEvent(event)
    }
}
#[diagnostic::do_not_recommend]
impl ::workflow_core::__private::Wrap<StartEvent<String>> for AnswererEvent {
    fn wrap(event: StartEvent<String>) -> Self {
        AnswererEvent::StartEvent(event)
    }
}
#[diagnostic::do_not_recommend]
impl ::workflow_core::__private::Variant<StartEvent<String>> for AnswererEvent {
    const INDEX: usize = 0usize;
    fn as_variant(&self) -> ::core::option::Option<&StartEvent<String>> {
        match self {
            AnswererEvent::StartEvent(event) => ::core::option::Option::Some(event),
            _ => ::core::option::Option::None,
        }
    }
    fn into_variant(self) -> ::core::result::Result<StartEvent<String>, Self> {
        match self {
            AnswererEvent::StartEvent(event) => ::core::result::Result::Ok(event),
            other => ::core::result::Result::Err(other),
        }
    }
}
impl ::core::convert::From<Checked> for AnswererEvent {
    fn from(event: Checked) -> Self {
        AnswererEvent::Checked(event)
    }
}
#[diagnostic::do_not_recommend]
impl ::workflow_core::__private::Wrap<Checked> for AnswererEvent {
    fn wrap(event: Checked) -> Self {
        AnswererEvent::Checked(event)
    }
}
#[diagnostic::do_not_recommend]
impl ::workflow_core::__private::Variant<Checked> for AnswererEvent {
    const INDEX: usize = 1usize;
    fn as_variant(&self) -> ::core::option::Option<&Checked> {
        match self {
            AnswererEvent::Checked(event) => ::core::option::Option::Some(event),
            _ => ::core::option::Option::None,
        }
    }
    fn into_variant(self) -> ::core::result::Result<Checked, Self> {
        match self {
            AnswererEvent::Checked(event) => ::core::result::Result::Ok(event),
            other => ::core::result::Result::Err(other),
        }
    }
}
impl ::core::convert::From<StopEvent<String>> for AnswererEvent {
    fn from(event: StopEvent<String>) -> Self {
        AnswererEvent::StopEvent(event)
    }
}
#[diagnostic::do_not_recommend]
impl ::workflow_core::__private::Wrap<StopEvent<String>> for AnswererEvent {
    fn wrap(event: StopEvent<String>) -> Self {
        AnswererEvent::StopEvent(event)
    }
}
#[diagnostic::do_not_recommend]
impl ::workflow_core::__private::Variant<StopEvent<String>> for AnswererEvent {
    const INDEX: usize = 2usize;
    fn as_variant(&self) -> ::core::option::Option<&StopEvent<String>> {
        match self {
            AnswererEvent::StopEvent(event) => ::core::option::Option::Some(event),
            _ => ::core::option::Option::None,
        }
    }
    fn into_variant(self) -> ::core::result::Result<StopEvent<String>, Self> {
        match self {
            AnswererEvent::StopEvent(event) => ::core::result::Result::Ok(event),
            other => ::core::result::Result::Err(other),
        }
    }
}
impl ::core::convert::From<AnswererStep> for usize {
    fn from(step: AnswererStep) -> usize {
        match step {
            AnswererStep::Begin => 0usize,
            AnswererStep::Check => 1usize,
        }
    }
}
impl ::workflow_core::__private::WorkflowEvent for AnswererEvent {
    type Step = AnswererStep;
    const INFO: &'static ::workflow_core::__private::WorkflowInfo = __WORKFLOW_INFO_Answerer;
    fn name(&self) -> &'static str {
        match self {
            AnswererEvent::StartEvent(_) => "StartEvent<String>",
            AnswererEvent::Checked(_) => "Checked",
            AnswererEvent::StopEvent(_) => "StopEvent<String>",
        }
    }
    fn index(&self) -> usize {
        match self {
            AnswererEvent::StartEvent(_) => 0usize,
            AnswererEvent::Checked(_) => 1usize,
            AnswererEvent::StopEvent(_) => 2usize,
        }
    }
    fn accepted_by(&self, step: ::workflow_core::__private::StepId) -> bool {
        match (self, step) {
            (AnswererEvent::StartEvent(_), 0usize) => true,
            (AnswererEvent::Checked(_), 1usize) => true,
            _ => false,
        }
    }
    fn sent_by(&self, step: ::workflow_core::__private::StepId) -> bool {
        match (self, step) {
            (AnswererEvent::Checked(_), 0usize | 1usize) => true,
            (AnswererEvent::StopEvent(_), 1usize) => true,
            _ => false,
        }
    }
    fn streamed_by(&self, step: ::workflow_core::__private::StepId) -> bool {
        match (self, step) {
            _ => false,
        }
    }
    fn to_json(
        &self,
    ) -> ::core::result::Result<
        ::workflow_core::__private::serde_json::Value,
        ::workflow_core::__private::serde_json::Error,
    > {
        match self {
            AnswererEvent::StartEvent(event) => {
                ::workflow_core::__private::serde_json::to_value(event)
            }
            AnswererEvent::Checked(event) => {
                ::workflow_core::__private::serde_json::to_value(event)
            }
            AnswererEvent::StopEvent(event) => {
                ::workflow_core::__private::serde_json::to_value(event)
            }
        }
    }
    fn from_json(
        name: &str,
        data: ::workflow_core::__private::serde_json::Value,
    ) -> ::core::option::Option<
        ::core::result::Result<Self, ::workflow_core::__private::serde_json::Error>,
    > {
        match name {
            "StartEvent<String>" => {
                ::core::option::Option::Some(
                    ::workflow_core::__private::serde_json::from_value::<
                        StartEvent<String>,
                    >(data)
                        .map(AnswererEvent::StartEvent),
                )
            }
            "Checked" => {
                ::core::option::Option::Some(
                    ::workflow_core::__private::serde_json::from_value::<Checked>(data)
                        .map(AnswererEvent::Checked),
                )
            }
            "StopEvent<String>" => {
                ::core::option::Option::Some(
                    ::workflow_core::__private::serde_json::from_value::<
                        StopEvent<String>,
                    >(data)
                        .map(AnswererEvent::StopEvent),
                )
            }
            _ => ::core::option::Option::None,
        }
    }
    fn step_failed(
        failure: ::workflow_core::__private::StepFailed,
    ) -> ::core::option::Option<Self> {
        {
            let _ = failure;
            ::core::option::Option::None
        }
    }
}
impl ::workflow_core::__private::Workflow for Answerer {
    type Event = AnswererEvent;
    type State = u32;
    type Input = String;
    type Output = String;
    const INFO: &'static ::workflow_core::__private::WorkflowInfo = __WORKFLOW_INFO_Answerer;
    fn start_event(input: Self::Input) -> AnswererEvent {
        AnswererEvent::StartEvent(::workflow_core::StartEvent::new(input))
    }
    fn dispatch(
        event: AnswererEvent,
    ) -> ::workflow_core::__private::Dispatch<AnswererEvent, Self::Output> {
        match event {
            AnswererEvent::StopEvent(event) => {
                ::workflow_core::__private::Dispatch::Stop(event.result)
            }
            event @ AnswererEvent::StartEvent(_) => {
                ::workflow_core::__private::Dispatch::Route(
                    &::workflow_core::__private::Route {
                        steps: &[0usize],
                        collectors: &[],
                        request: false,
                    },
                    event,
                )
            }
            event @ AnswererEvent::Checked(_) => {
                ::workflow_core::__private::Dispatch::Route(
                    &::workflow_core::__private::Route {
                        steps: &[1usize],
                        collectors: &[],
                        request: false,
                    },
                    event,
                )
            }
        }
    }
    fn retry_policy(
        step: ::workflow_core::__private::StepId,
    ) -> ::core::option::Option<::workflow_core::__private::RetryPolicy> {
        match step {
            _ => ::core::option::Option::None,
        }
    }
    fn invoke(
        self: ::workflow_core::__private::Arc<Self>,
        step: ::workflow_core::__private::StepId,
        context: ::workflow_core::__private::Context<u32, AnswererEvent>,
        input: ::workflow_core::__private::StepInput<AnswererEvent>,
    ) -> impl ::core::future::Future<
        Output = ::workflow_core::__private::StepOutcome<AnswererEvent>,
    > + ::core::marker::Send + 'static {
        async move {
            let _ = &context;
            let misrouted = || ::core::result::Result::Err(
                ::workflow_core::__private::misrouted(
                    <Self as ::workflow_core::__private::Workflow>::INFO,
                    step,
                ),
            );
            match step {
                0usize => {
                    let event = match input {
                        ::workflow_core::__private::StepInput::One(
                            AnswererEvent::StartEvent(event),
                        ) => event,
                        _ => return misrouted(),
                    };
                    let out = <Answerer>::begin(&*self, event).await;
                    ::core::result::Result::Ok({
                        let e = out;
                        ::workflow_core::__private::Emitted::One(
                            AnswererEvent::Checked(e),
                        )
                    })
                }
                1usize => {
                    let event = match input {
                        ::workflow_core::__private::StepInput::One(
                            AnswererEvent::Checked(event),
                        ) => event,
                        _ => return misrouted(),
                    };
                    let out = <Answerer>::check(&*self, &context, event).await;
                    match out {
                        ::core::result::Result::Ok(out) => {
                            ::core::result::Result::Ok({
                                let e = out;
                                ::workflow_core::__private::Emitted::One(
                                    match e.into_choice() {
                                        ::workflow_core::__private::Choice2::V0(e) => {
                                            AnswererEvent::Checked(e)
                                        }
                                        ::workflow_core::__private::Choice2::V1(e) => {
                                            AnswererEvent::StopEvent(e)
                                        }
                                    },
                                )
                            })
                        }
                        ::core::result::Result::Err(error) => {
                            ::core::result::Result::Err(
                                ::workflow_core::__private::box_error(error),
                            )
                        }
                    }
                }
                _ => misrouted(),
            }
        }
    }
}
const _: () = {
    #[allow(unused_imports)]
    use ::workflow_core::__private::{ByDefault as _, NoConstructor as _};
    fn start(
        input: ::workflow_core::__private::serde_json::Value,
        options: ::workflow_core::RunOptions<()>,
    ) -> ::core::result::Result<::workflow_core::JsonRun, ::workflow_core::StartError> {
        let construct: ::workflow_core::__private::Constructor<Answerer> = (&&::workflow_core::__private::Probe::<
            Answerer,
        >::new())
            .constructor();
        ::workflow_core::__private::start_json::<Answerer>(construct, input, options)
    }
    fn event_schemas() -> ::std::vec::Vec<
        (&'static str, ::workflow_core::__private::schemars::Schema),
    > {
        ::std::vec![
            ("StartEvent<String>", ::workflow_core::__private::event_schema:: <
            StartEvent < String > > ()), ("Checked",
            ::workflow_core::__private::event_schema:: < Checked > ()),
            ("StopEvent<String>", ::workflow_core::__private::event_schema:: < StopEvent
            < String > > ())
        ]
    }
    ::workflow_core::__private::inventory::submit! {
        ::workflow_core::Registration::new(< Answerer as
        ::workflow_core::__private::Workflow > ::INFO, ::core::module_path!(),
        ::workflow_core::__private::schema_of:: < String >,
        ::workflow_core::__private::schema_of:: < String >, event_schemas, start,)
    }
};
