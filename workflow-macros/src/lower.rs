//! Stage 3: the checked definition → an IR of tables (events, steps, routes)
//! that code generation only has to print.

use quote::format_ident;

use crate::analyze::{is_answer, is_request, Analysis};
use crate::parse::ast::{Arity, EventTy, InputKind, Param, ResourceParam, WorkflowDef};

/// How many failures a handler recovers from per run when it does not say:
/// one, as LlamaIndex's `@catch_error`.
const DEFAULT_MAX_RECOVERIES: u32 = 1;

pub struct Ir {
    pub name: syn::Ident,
    pub self_ty: syn::Type,
    /// The generated event enum, `{Name}Event` unless renamed.
    pub enum_ident: syn::Ident,
    /// The generated step enum, `{Name}Step` unless renamed.
    pub step_enum: syn::Ident,
    pub events: Vec<EventIr>,
    pub start: Boundary,
    pub stop: Boundary,
    /// `S` of `Context<S>`, or `()`.
    pub state: syn::Type,
    pub steps: Vec<StepIr>,
    /// Parameter types `OneOf<(A, B)>` that need a conversion into the enum.
    pub unions: Vec<(syn::Type, Vec<usize>)>,
    /// The event index of `StepFailed`, if some step consumes it.
    pub step_failed: Option<usize>,
    /// `#[workflow(new = ..)]`.
    pub constructor: Option<syn::Path>,
    /// `#[workflow(num_concurrent_runs = N)]`.
    pub num_concurrent_runs: Option<usize>,
    /// The generated graph function, `mermaid` unless renamed.
    pub mermaid_fn: syn::Ident,
    /// The impl's generics (type parameters only), as written.
    pub generics: syn::Generics,
    /// The hidden constant holding the graph, shared by every instantiation.
    pub info_const: syn::Ident,
    /// The hidden marker type that names the generated enums from outside
    /// the block that defines them.
    pub marker: syn::Ident,
    /// `#[workflow(register = [..])]`: the instantiations of a generic
    /// workflow to register.
    pub register: Vec<syn::Type>,
    /// The `#[resource]` methods.
    pub factories: Vec<FactoryIr>,
    /// Every workflow a step declares as a child, once, and whether its
    /// type names one of the impl's type parameters.
    pub child_types: Vec<(syn::Type, bool)>,
    /// `resources = [..]`'s factory types, for the cycle check at run start.
    pub shared_factories: Vec<syn::Type>,
    /// The graph to draw, built exactly as the runtime rebuilds it from
    /// `WorkflowInfo` (both call `workflow_graph::Graph::workflow`).
    pub graph: workflow_graph::Graph,
}

pub struct EventIr {
    pub ty: syn::Type,
    pub name: String,
    pub variant: syn::Ident,
    /// Steps that take it itself (alone or in a union).
    pub consumers: Vec<usize>,
    /// Steps that take `Collected<_>` of it.
    pub collectors: Vec<usize>,
    /// Steps that declare they emit it: return, send or stream it.
    pub emitters: Vec<usize>,
    /// Steps that return or send it.
    pub senders: Vec<usize>,
    /// Steps that stream it.
    pub streamers: Vec<usize>,
    /// Steps that wait for it in `ctx.wait_for_event`.
    pub waiters: Vec<usize>,
    /// Whether it asks the caller for input.
    pub request: bool,
    /// Whether the caller may send it in.
    pub answer: bool,
}

/// The start or the stop event, and the payload `run` takes or returns.
pub struct Boundary {
    pub event: usize,
    /// `T` for `StartEvent<T>`/`StopEvent<T>`; the event type itself otherwise.
    pub payload: syn::Type,
    /// Whether the payload is wrapped in the library's `StartEvent`/`StopEvent`.
    pub wrapped: bool,
}

pub struct StepIr {
    pub ident: syn::Ident,
    /// The method's name as a string.
    pub name: String,
    /// Its variant in the step enum.
    pub variant: syn::Ident,
    pub num_workers: usize,
    pub input: InputKind,
    /// The parameter's type as written.
    pub input_ty: syn::Type,
    /// The events it takes.
    pub consumes: Vec<usize>,
    pub params: Vec<Param>,
    /// What `Param::Resource` indexes.
    pub resources: Vec<ResourceUse>,
    pub fallible: bool,
    pub shape: ShapeIr,
    pub retry: Option<syn::Expr>,
    /// The `Collected` steps a fan-out of this step feeds: each runs once
    /// when the fan-out settles, with an empty list if nothing reached it.
    pub fan_in: Vec<usize>,
    /// `children = [..]`, as written.
    pub children: Vec<syn::Type>,
    /// If it handles failures: the steps it covers (`None`: every step
    /// without a handler of its own) and its `max_recoveries`.
    pub recovers: Option<(Option<Vec<usize>>, u32)>,
}

/// A `name: Resource<T>` parameter, with the factory its name resolved to.
pub struct ResourceUse {
    /// `Resource<T>` as written.
    pub ty: syn::Type,
    pub source: Source,
}

/// Where a resource comes from.
pub enum Source {
    /// The `#[resource]` method at this index of [`Ir::factories`].
    Own(usize),
    /// The factory type at this index of `resources = [..]`
    /// ([`Ir::shared_factories`]).
    Shared(usize),
}

/// A `#[resource]` method, its needs resolved.
pub struct FactoryIr {
    pub ident: syn::Ident,
    pub name: String,
    pub receiver: bool,
    pub is_async: bool,
    pub needs: Vec<ResourceUse>,
    pub value: syn::Type,
    pub fallible: bool,
    pub cache: bool,
}

/// A step's [`Shape`](crate::parse::ast::Shape), with events as indices into [`Ir::events`].
pub struct ShapeIr {
    pub arity: Arity,
    /// One event, or the alternatives of an `Emit` branch.
    pub events: Vec<usize>,
}

/// Builds the tables. Only called when analysis reported no error, so the
/// start and stop events are known.
pub fn lower(def: &WorkflowDef, analysis: Analysis) -> Ir {
    let (Some(start_event), Some(stop_event)) = (&analysis.start, &analysis.stop) else {
        unreachable!("a workflow without start or stop event fails analysis")
    };
    let mut table = EventTable::default();
    let start = table.index(start_event);
    for step in &def.steps {
        for event in step.consumes().iter().chain(step.produces()).chain(&step.streams).chain(&step.waits) {
            table.index(event);
        }
    }
    for event in def.args.external.iter().chain(&def.args.requests) {
        table.index(event);
    }
    let stop = table.index(stop_event);

    let mut steps = Vec::new();
    let mut unions: Vec<(syn::Type, Vec<usize>)> = Vec::new();
    for (i, step) in def.steps.iter().enumerate() {
        let consumes: Vec<usize> = step.consumes().iter().map(|e| table.find(e)).collect();
        for &e in &consumes {
            let event = &mut table.events[e];
            match step.input.kind {
                InputKind::Collected => event.collectors.push(i),
                InputKind::One | InputKind::Union => event.consumers.push(i),
            }
        }
        let sent = step.produces().map(|e| (e, true));
        let streamed = step.streams.iter().map(|e| (e, false));
        for (event, is_sent) in sent.chain(streamed) {
            let at = table.find(event);
            let entry = &mut table.events[at];
            let list = if is_sent { &mut entry.senders } else { &mut entry.streamers };
            add_once(list, i);
            add_once(&mut entry.emitters, i);
        }
        for event in &step.waits {
            let at = table.find(event);
            add_once(&mut table.events[at].waiters, i);
        }
        if step.input.kind == InputKind::Union {
            let key = EventTy::new(step.input.ty.clone()).key;
            if !unions.iter().any(|(ty, _)| EventTy::new(ty.clone()).key == key) {
                unions.push((step.input.ty.clone(), consumes.clone()));
            }
        }
        steps.push(StepIr {
            ident: step.ident.clone(),
            name: step.name.clone(),
            variant: step.variant.clone(),
            num_workers: step.num_workers,
            input: step.input.kind,
            input_ty: step.input.ty.clone(),
            consumes,
            params: step.params.clone(),
            resources: step.resources.iter().map(|p| resolve(def, p)).collect(),
            fallible: step.output.fallible,
            shape: ShapeIr {
                arity: step.output.shape.arity,
                events: step.output.shape.events().iter().map(|e| table.find(e)).collect(),
            },
            retry: step.retry.clone(),
            children: step.children.clone(),
            fan_in: Vec::new(),
            recovers: step.is_failure_handler().then(|| {
                let covers = step.for_steps.as_ref().map(|names| {
                    let named = |n: &syn::Ident| syn::ext::IdentExt::unraw(n).to_string();
                    names.iter().filter_map(|n| def.steps.iter().position(|s| s.name == named(n))).collect()
                });
                let max = step.max_recoveries.as_ref().and_then(|lit| lit.base10_parse().ok());
                (covers, max.unwrap_or(DEFAULT_MAX_RECOVERIES))
            }),
        });
    }
    for (i, key) in table.keys.iter().enumerate() {
        let event = EventTy { ty: table.events[i].ty.clone(), key: key.clone() };
        table.events[i].request = is_request(def, &event);
        table.events[i].answer = is_answer(def, &event);
    }
    let step_failed = table
        .events
        .iter()
        .position(|e| EventTy::new(e.ty.clone()).is_wrapper_named("StepFailed") && !e.consumers.is_empty());
    let events = table.events;
    for (i, step) in steps.iter_mut().enumerate() {
        if step.shape.arity == Arity::Many {
            step.fan_in = fan_in(&events, i, stop);
        }
    }
    let graph = graph(&events, &steps, start, stop);
    Ir {
        name: def.name.clone(),
        self_ty: (*def.item.self_ty).clone(),
        // Spanned at the workflow's name, so that a clash with a user type
        // of the same name points at the impl that generated it.
        enum_ident: def
            .args
            .event_enum
            .clone()
            .unwrap_or_else(|| format_ident!("{}Event", def.name, span = def.name.span())),
        step_enum: def
            .args
            .step_enum
            .clone()
            .unwrap_or_else(|| format_ident!("{}Step", def.name, span = def.name.span())),
        start: boundary(start_event, start, "StartEvent"),
        stop: boundary(stop_event, stop, "StopEvent"),
        state: analysis.state.unwrap_or_else(|| syn::parse_quote!(())),
        events,
        steps,
        unions,
        step_failed,
        constructor: def.args.constructor.clone(),
        num_concurrent_runs: def.args.num_concurrent_runs,
        mermaid_fn: def.args.mermaid.clone().unwrap_or_else(|| format_ident!("mermaid")),
        generics: def.item.generics.clone(),
        info_const: format_ident!("__WORKFLOW_INFO_{}", def.name),
        marker: format_ident!("__{}Workflow", def.name),
        register: def.args.register.clone(),
        factories: def
            .factories
            .iter()
            .map(|f| FactoryIr {
                ident: f.ident.clone(),
                name: syn::ext::IdentExt::unraw(&f.ident).to_string(),
                receiver: f.receiver,
                is_async: f.is_async,
                needs: f.needs.iter().map(|p| resolve(def, p)).collect(),
                value: f.value.clone(),
                fallible: f.fallible,
                cache: f.cache,
            })
            .collect(),
        shared_factories: def.args.resources.iter().map(|(_, ty)| ty.clone()).collect(),
        child_types: child_types(def),
        graph,
    }
}

/// The declared children, each type once.
fn child_types(def: &WorkflowDef) -> Vec<(syn::Type, bool)> {
    let mut seen: Vec<String> = Vec::new();
    let mut types = Vec::new();
    for ty in def.steps.iter().flat_map(|s| &s.children) {
        let key = EventTy::new(ty.clone()).key;
        if !seen.contains(&key) {
            seen.push(key);
            types.push((ty.clone(), def.type_parameter_in(ty).is_some()));
        }
    }
    types
}

/// The factory a resource parameter names (analysis proved there is one).
fn resolve(def: &WorkflowDef, param: &ResourceParam) -> ResourceUse {
    let own = def.factories.iter().position(|f| param.name == syn::ext::IdentExt::unraw(&f.ident));
    let source = match own {
        Some(at) => Source::Own(at),
        None => match def
            .args
            .resources
            .iter()
            .position(|(name, _)| param.name == syn::ext::IdentExt::unraw(name))
        {
            Some(at) => Source::Shared(at),
            None => unreachable!("analysis reports a resource that is not declared"),
        },
    };
    ResourceUse { ty: param.ty.clone(), source }
}

fn boundary(event: &EventTy, index: usize, wrapper: &str) -> Boundary {
    let (payload, wrapped) = payload(event, wrapper);
    Boundary { event: index, payload, wrapped }
}

/// What `run` takes or returns for a start or stop event: `T` of
/// `StartEvent<T>`, or a user's own event type itself.
pub fn payload(event: &EventTy, wrapper: &str) -> (syn::Type, bool) {
    match event.payload().filter(|_| event.is_wrapper_named(wrapper)) {
        Some(payload) => (payload.clone(), true),
        None => (event.ty.clone(), false),
    }
}

/// The `Collected` steps that events of a fan-out by `origin` can reach:
/// along what each step returns or sends, up to the first collector on each
/// path (a collector's own output leaves the fan-out), never past the stop.
fn fan_in(events: &[EventIr], origin: usize, stop: usize) -> Vec<usize> {
    let mut collectors = Vec::new();
    let mut visited = vec![origin];
    let mut frontier = vec![origin];
    while let Some(step) = frontier.pop() {
        for (e, event) in events.iter().enumerate() {
            if e == stop || !event.senders.contains(&step) {
                continue;
            }
            for &c in &event.collectors {
                add_once(&mut collectors, c);
            }
            for &next in &event.consumers {
                if !visited.contains(&next) {
                    visited.push(next);
                    frontier.push(next);
                }
            }
        }
    }
    collectors.sort_unstable();
    collectors
}

fn add_once(list: &mut Vec<usize>, step: usize) {
    if !list.contains(&step) {
        list.push(step);
    }
}

/// Event types in order of first appearance, with unique variant names.
#[derive(Default)]
struct EventTable {
    events: Vec<EventIr>,
    keys: Vec<String>,
}

impl EventTable {
    fn index(&mut self, event: &EventTy) -> usize {
        if let Some(i) = self.keys.iter().position(|k| *k == event.key) {
            return i;
        }
        let base = event.last_segment().map_or_else(|| format_ident!("Event"), |s| s.ident.clone());
        let taken = |v: &syn::Ident| self.events.iter().any(|e| e.variant == *v);
        let mut variant = base.clone();
        let mut n = 2usize;
        while taken(&variant) {
            variant = format_ident!("{}{}", base, n);
            n += 1;
        }
        self.keys.push(event.key.clone());
        self.events.push(EventIr {
            ty: event.ty.clone(),
            name: event.key.clone(),
            variant,
            consumers: Vec::new(),
            collectors: Vec::new(),
            emitters: Vec::new(),
            senders: Vec::new(),
            streamers: Vec::new(),
            waiters: Vec::new(),
            request: false,
            answer: false,
        });
        self.events.len() - 1
    }

    fn find(&self, event: &EventTy) -> usize {
        self.keys.iter().position(|k| *k == event.key).expect("every event was indexed")
    }
}

/// The events step `step` returns many of at once (`Vec<E>`): its fan-out.
pub fn fans_out(ir: &Ir, step: usize) -> Vec<usize> {
    fanned(&ir.steps[step])
}

fn fanned(step: &StepIr) -> Vec<usize> {
    if step.shape.arity == crate::parse::ast::Arity::Many {
        step.shape.events.clone()
    } else {
        Vec::new()
    }
}

/// The drawable graph: what each step takes (one by one, or all of a
/// fan-out), returns or sends (one, or many), streams and waits for, and
/// what the caller sends in.
fn graph(events: &[EventIr], steps: &[StepIr], start: usize, stop: usize) -> workflow_graph::Graph {
    let names: Vec<&str> = events.iter().map(|e| e.name.as_str()).collect();
    let lists: Vec<[Vec<&str>; 5]> = (0..steps.len())
        .map(|i| {
            let of = |pick: fn(&EventIr) -> &Vec<usize>| {
                events.iter().filter(|e| pick(e).contains(&i)).map(|e| e.name.as_str()).collect::<Vec<_>>()
            };
            let accepts = steps[i].consumes.iter().map(|&e| events[e].name.as_str()).collect();
            let fans = fanned(&steps[i]).into_iter().map(|e| events[e].name.as_str()).collect();
            [accepts, of(|e| &e.senders), of(|e| &e.streamers), fans, of(|e| &e.waiters)]
        })
        .collect();
    let children: Vec<Vec<String>> =
        steps.iter().map(|s| s.children.iter().map(|ty| EventTy::new(ty.clone()).key).collect()).collect();
    let children: Vec<Vec<&str>> = children.iter().map(|c| c.iter().map(String::as_str).collect()).collect();
    let specs: Vec<workflow_graph::StepSpec<'_>> = steps
        .iter()
        .zip(&lists)
        .zip(&children)
        .map(|((step, [accepts, emits, streams, fans_out, waits]), children)| {
            let name = step.name.as_str();
            let collects = step.input == InputKind::Collected;
            workflow_graph::StepSpec { name, accepts, collects, emits, fans_out, streams, waits, children }
        })
        .collect();
    let answers: Vec<&str> = events.iter().filter(|e| e.answer).map(|e| e.name.as_str()).collect();
    workflow_graph::Graph::workflow(&names, &specs, &events[start].name, &events[stop].name, &answers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::analyze;
    use crate::internals::Ctxt;
    use crate::parse::parse;
    use quote::{quote, ToTokens};
    use syn::parse_quote;

    pub fn lowered(item: syn::ItemImpl) -> Ir {
        let cx = Ctxt::new();
        let def = parse(quote!(), item, &cx);
        let analysis = analyze(&def, &cx);
        cx.check().map_err(|e| e[0].to_string()).unwrap();
        lower(&def, analysis)
    }

    #[test]
    fn builds_event_and_route_tables() {
        let ir = lowered(parse_quote! {
            impl Rag {
                #[step] async fn retrieve(&self, ev: StartEvent<Query>) -> Retrieved { todo!() }
                #[step] async fn audit(&self, ev: Retrieved) -> Option<Audited> { todo!() }
                #[step] async fn answer(&self, ev: Retrieved) -> Emit<(Retrieved, StopEvent<String>)> { todo!() }
                #[step] async fn note(&self, ev: Audited) -> Vec<Retrieved> { todo!() }
            }
        });
        let names: Vec<_> = ir.events.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["StartEvent<Query>", "Retrieved", "Audited", "StopEvent<String>"]);
        assert_eq!(ir.events[1].consumers, [1, 2], "broadcast to both consumers of Retrieved");
        assert_eq!(ir.events[3].consumers, Vec::<usize>::new());
        assert_eq!(ir.events[1].emitters, [0, 2, 3]);
        assert_eq!(ir.enum_ident, "RagEvent");
        assert_eq!(ir.step_enum, "RagStep");
        assert_eq!(ir.steps[0].variant, "Retrieve");
        assert!(ir.start.wrapped && ir.stop.wrapped);
        assert_eq!(ir.start.payload.to_token_stream().to_string(), "Query");
        assert_eq!(ir.stop.payload.to_token_stream().to_string(), "String");
        assert_eq!(ir.state.to_token_stream().to_string(), "()");
        let mermaid = ir.graph.mermaid(None);
        assert!(mermaid.contains("n0(((\"StartEvent#lt;Query#gt;\")))"), "{mermaid}");
        assert!(mermaid.contains("n6 --> n1"), "answer (node 6) loops back to Retrieved: {mermaid}");
    }

    #[test]
    fn collectors_unions_requests_and_step_failed_are_tabled() {
        let ir = lowered(parse_quote! {
            impl Flow {
                #[step] async fn split(&self, ev: StartEvent<u8>) -> Vec<Job> { todo!() }
                #[step] async fn work(&self, ev: Job) -> Result<Done, E> { todo!() }
                #[step] async fn gather(&self, ev: Collected<Done>) -> InputRequired<u8> { todo!() }
                #[step] async fn answer(&self, ev: OneOf<(HumanResponse<u8>, StepFailed)>) -> StopEvent<u8> { todo!() }
                #[step] async fn check_answer(&self, ev: HumanResponse<u8>) -> Option<StopEvent<u8>> { todo!() }
            }
        });
        let find = |name: &str| ir.events.iter().position(|e| e.name == name).unwrap();
        assert_eq!(ir.events[find("Done")].collectors, [2]);
        assert!(ir.events[find("Done")].consumers.is_empty());
        assert!(ir.events[find("InputRequired<u8>")].request);
        assert_eq!(ir.events[find("HumanResponse<u8>")].consumers, [3, 4]);
        assert_eq!(ir.step_failed, Some(find("StepFailed")));
        assert_eq!(ir.unions.len(), 1);
        assert_eq!(ir.steps[4].variant, "CheckAnswer");
        assert_eq!(ir.steps[0].fan_in, [2], "split's fan-out reaches gather through work");
        assert!(ir.steps[1].fan_in.is_empty(), "work does not fan out");
    }

    #[test]
    fn a_fan_out_feeds_the_first_collectors_on_each_path_only() {
        let ir = lowered(parse_quote! {
            impl Flow {
                #[step] async fn split(&self, ev: StartEvent<u8>) -> Vec<Job> { todo!() }
                #[step] async fn work(&self, ev: Job) -> Emit<(Done, Skipped)> { todo!() }
                #[step] async fn gather(&self, ev: Collected<Done>) -> Summary { todo!() }
                #[step] async fn skipped(&self, ev: Collected<Skipped>) -> Option<StopEvent<u8>> { todo!() }
                #[step] async fn last(&self, ev: Collected<Summary>) -> StopEvent<u8> { todo!() }
            }
        });
        assert_eq!(ir.steps[0].fan_in, [2, 3], "`last` is past the first collector");
    }

    #[test]
    fn variant_names_stay_unique() {
        let ir = lowered(parse_quote! {
            impl F {
                #[step] async fn a(&self, ev: StartEvent<u8>) -> x::Done { todo!() }
                #[step] async fn b(&self, ev: x::Done) -> y::Done { todo!() }
                #[step] async fn c(&self, ev: y::Done) -> StopEvent<u8> { todo!() }
            }
        });
        let variants: Vec<_> = ir.events.iter().map(|e| e.variant.to_string()).collect();
        assert_eq!(variants, ["StartEvent", "Done", "Done2", "StopEvent"]);
    }
}
