//! Stage 3: the checked definition → an IR of tables (events, steps, routes)
//! that code generation only has to print.

use quote::format_ident;

use crate::analyze::Analysis;
use crate::parse::ast::{Arity, EventTy, Param, WorkflowDef};

pub struct Ir {
    pub name: syn::Ident,
    pub self_ty: syn::Type,
    /// The generated event enum, `{Name}Event`.
    pub enum_ident: syn::Ident,
    pub events: Vec<EventIr>,
    pub start: Boundary,
    pub stop: Boundary,
    /// `S` of `Context<S>`, or `()`.
    pub state: syn::Type,
    pub steps: Vec<StepIr>,
    pub mermaid: String,
}

pub struct EventIr {
    pub ty: syn::Type,
    pub name: String,
    pub variant: syn::Ident,
    /// The steps that consume it, by index.
    pub consumers: Vec<usize>,
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
    pub num_workers: usize,
    pub event: usize,
    pub params: Vec<Param>,
    pub fallible: bool,
    pub shape: ShapeIr,
}

/// A step's [`Shape`](crate::parse::ast::Shape), with events as indices into [`Ir::events`].
pub struct ShapeIr {
    pub arity: Arity,
    /// One event, or the alternatives of an `Emit` branch.
    pub events: Vec<usize>,
}

impl ShapeIr {
    pub fn events(&self) -> &[usize] {
        &self.events
    }
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
        table.index(&step.event);
        for event in step.output.shape.events() {
            table.index(event);
        }
    }
    let stop = table.index(stop_event);

    let steps: Vec<StepIr> = def
        .steps
        .iter()
        .map(|step| {
            let index = |e: &EventTy| table.find(e);
            let shape = ShapeIr {
                arity: step.output.shape.arity,
                events: step.output.shape.events().iter().map(index).collect(),
            };
            StepIr {
                ident: step.ident.clone(),
                num_workers: step.num_workers,
                event: index(&step.event),
                params: step.params.clone(),
                fallible: step.output.fallible,
                shape,
            }
        })
        .collect();

    let mut events = table.into_events();
    for (i, step) in steps.iter().enumerate() {
        events[step.event].consumers.push(i);
    }
    let mermaid = mermaid(&events, &steps, start, stop);
    Ir {
        name: def.name.clone(),
        self_ty: (*def.item.self_ty).clone(),
        enum_ident: format_ident!("{}Event", def.name),
        start: boundary(start_event, start, "StartEvent"),
        stop: boundary(stop_event, stop, "StopEvent"),
        state: analysis.state.unwrap_or_else(|| syn::parse_quote!(())),
        events,
        steps,
        mermaid,
    }
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
        });
        self.events.len() - 1
    }

    fn find(&self, event: &EventTy) -> usize {
        self.keys.iter().position(|k| *k == event.key).expect("every event was indexed")
    }

    fn into_events(self) -> Vec<EventIr> {
        self.events
    }
}

/// The graph as a mermaid flowchart: steps are boxes, events are rounded.
fn mermaid(events: &[EventIr], steps: &[StepIr], start: usize, stop: usize) -> String {
    let escape = |s: &str| s.replace('<', "#lt;").replace('>', "#gt;").replace('"', "#quot;");
    let mut out = String::from("flowchart TD\n");
    for (i, event) in events.iter().enumerate() {
        let (open, close) = if i == start || i == stop { ("((", "))") } else { ("([", "])") };
        out.push_str(&format!("    e{i}{open}\"{}\"{close}\n", escape(&event.name)));
    }
    for (i, step) in steps.iter().enumerate() {
        out.push_str(&format!("    s{i}[\"{}\"]\n", step.ident));
        out.push_str(&format!("    e{} --> s{i}\n", step.event));
        for e in step.shape.events() {
            out.push_str(&format!("    s{i} --> e{e}\n"));
        }
    }
    out
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
        lower(&def, analysis.unwrap())
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
        assert_eq!(ir.enum_ident, "RagEvent");
        assert!(ir.start.wrapped && ir.stop.wrapped);
        assert_eq!(ir.start.payload.to_token_stream().to_string(), "Query");
        assert_eq!(ir.stop.payload.to_token_stream().to_string(), "String");
        assert_eq!(ir.state.to_token_stream().to_string(), "()");
        assert!(ir.mermaid.contains("e0((\"StartEvent#lt;Query#gt;\"))"), "{}", ir.mermaid);
        assert!(ir.mermaid.contains("s2 --> e1"), "{}", ir.mermaid);
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
