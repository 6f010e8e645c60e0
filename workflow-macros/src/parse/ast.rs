//! The syntax tree of a `#[workflow]` impl, as the later stages need it.

use quote::ToTokens;

/// A workflow impl and its steps.
pub struct WorkflowDef {
    /// The impl block, with every `#[step]` attribute removed.
    pub item: syn::ItemImpl,
    /// The workflow type's name (last segment of the self type).
    pub name: syn::Ident,
    pub args: WorkflowArgs,
    /// The steps whose signatures could be read.
    pub steps: Vec<Step>,
    /// The names of every `#[step]` method, readable or not.
    pub step_methods: Vec<syn::Ident>,
    /// The `#[resource]` methods whose signatures could be read.
    pub factories: Vec<Factory>,
    /// The `#[resource]` methods whose signatures could not be read (an
    /// error already), so that naming them is no second error.
    pub unreadable_factories: Vec<syn::Ident>,
    /// Whether some step's signature was too malformed to take part in the graph.
    pub incomplete: bool,
    /// Steps whose return type the macro rejected: the fallback leaves their
    /// bodies out, which would only repeat the error in rustc's words.
    pub unreadable_returns: Vec<syn::Ident>,
    /// Pairs of spellings taken as one event (the kept one, another), for
    /// rustc to confirm: filled by `identity::resolve`.
    pub same_types: Vec<(syn::Type, syn::Type)>,
}

/// `#[workflow(start = .., stop = .., skip = [..], external = [..], requests = [..], ..)]`.
#[derive(Default)]
pub struct WorkflowArgs {
    pub start: Option<EventTy>,
    pub stop: Option<EventTy>,
    pub skip: Vec<Check>,
    /// Events the caller sends in (`handler.send_event`): no step emits them.
    pub external: Vec<EventTy>,
    /// Events that ask the caller for input: no step needs to consume them.
    pub requests: Vec<EventTy>,
    /// The name of the generated event enum, instead of `{Name}Event`.
    pub event_enum: Option<syn::Ident>,
    /// The name of the generated step enum, instead of `{Name}Step`.
    pub step_enum: Option<syn::Ident>,
    /// How the registry builds the workflow, instead of `Default`.
    pub constructor: Option<syn::Path>,
    /// The name of the generated `mermaid()` function.
    pub mermaid: Option<syn::Ident>,
    /// The instantiations of a generic workflow to register (`Rag<Bm25>`).
    pub register: Vec<syn::Type>,
    /// How many runs of one instance may go at once (`num_concurrent_runs`).
    pub num_concurrent_runs: Option<usize>,
    /// `resources = [name = Factory, ..]`: resources built by factory types
    /// declared elsewhere (implementing `ResourceFactory`).
    pub resources: Vec<(syn::Ident, syn::Type)>,
}

/// A graph check, as named in `skip = [..]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    /// An emitted event that no step consumes.
    Unconsumed,
    /// A consumed event that no step emits.
    Unproduced,
    /// A step that the start event can never reach.
    Reachability,
    /// A step from which the stop event can never be reached.
    DeadEnd,
}

impl Check {
    pub const ALL: [Check; 4] = [Check::Unconsumed, Check::Unproduced, Check::Reachability, Check::DeadEnd];

    pub fn name(self) -> &'static str {
        match self {
            Check::Unconsumed => "unconsumed",
            Check::Unproduced => "unproduced",
            Check::Reachability => "reachability",
            Check::DeadEnd => "dead_end",
        }
    }

    pub fn from_name(name: &str) -> Option<Check> {
        Check::ALL.into_iter().find(|c| c.name() == name)
    }
}

/// A `#[step]` method.
pub struct Step {
    pub ident: syn::Ident,
    /// The method's name without `r#`: `match` for `r#match`.
    pub name: String,
    /// Whether its body sends or streams a type it does not declare (an
    /// error already reported; the graph checks are then skipped).
    pub undeclared: bool,
    /// Its variant in the generated step enum: `CheckAnswer` for `check_answer`.
    pub variant: syn::Ident,
    pub num_workers: usize,
    pub skip: Vec<Check>,
    /// Events it sends with `ctx.send_event`: edges, like its return type.
    pub sends: Vec<EventTy>,
    /// Events it writes to the caller's stream: not edges.
    pub streams: Vec<EventTy>,
    /// Answers it waits for in `ctx.wait_for_event`: they come from the
    /// caller, and lead into this step.
    pub waits: Vec<EventTy>,
    /// Its `retry = ..` expression, a `RetryPolicy` (such as a `Backoff`).
    pub retry: Option<syn::Expr>,
    /// `for_steps = [..]`: the steps whose failures it handles (a step
    /// that takes `StepFailed`); without it, a handler covers every step.
    pub for_steps: Option<Vec<syn::Ident>>,
    /// `max_recoveries = N`.
    pub max_recoveries: Option<syn::LitInt>,
    /// `children = [..]`: the workflows it may run with `ctx.run_child`.
    pub children: Vec<syn::Type>,
    /// The parameters after `&self`, in declaration order.
    pub params: Vec<Param>,
    /// Its `name: Resource<T>` parameters, which `Param::Resource` indexes.
    pub resources: Vec<ResourceParam>,
    /// What the step consumes.
    pub input: Input,
    /// The state type `S` of a `&Context<S>` parameter.
    pub context: Option<syn::Type>,
    pub output: Output,
}

impl WorkflowDef {
    /// Every event type the definition names, in order of appearance: the
    /// workflow's arguments, then each step's input, output, sends, streams
    /// and waits.
    pub fn events(&self) -> Vec<&EventTy> {
        let args = &self.args;
        let mut all: Vec<&EventTy> = Vec::new();
        all.extend(args.start.iter().chain(&args.stop).chain(&args.external).chain(&args.requests));
        for step in &self.steps {
            all.extend(step.consumes().iter().chain(step.produces()).chain(&step.streams).chain(&step.waits));
        }
        all
    }

    /// [`WorkflowDef::events`], to rewrite their keys.
    pub fn events_mut(&mut self) -> Vec<&mut EventTy> {
        let args = &mut self.args;
        let mut all: Vec<&mut EventTy> = Vec::new();
        all.extend(
            args.start.iter_mut().chain(&mut args.stop).chain(&mut args.external).chain(&mut args.requests),
        );
        for step in &mut self.steps {
            all.extend(step.input.events.iter_mut().chain(&mut step.output.shape.events));
            all.extend(step.sends.iter_mut().chain(&mut step.streams).chain(&mut step.waits));
        }
        all
    }

    /// The impl's type parameter that `ty` names, if any (`R` in
    /// `StopEvent<R::Answer>`): such a type differs between instantiations.
    pub fn type_parameter_in(&self, ty: &syn::Type) -> Option<syn::Ident> {
        fn flatten(tree: proc_macro2::TokenTree) -> Vec<proc_macro2::TokenTree> {
            match tree {
                proc_macro2::TokenTree::Group(g) => g.stream().into_iter().flat_map(flatten).collect(),
                other => vec![other],
            }
        }
        let params: Vec<&syn::Ident> = self.item.generics.type_params().map(|p| &p.ident).collect();
        if params.is_empty() {
            return None;
        }
        ty.to_token_stream().into_iter().flat_map(flatten).find_map(|t| match t {
            proc_macro2::TokenTree::Ident(i) if params.iter().any(|p| **p == i) => Some(i),
            _ => None,
        })
    }
}

impl Step {
    pub fn skips(&self, check: Check) -> bool {
        self.skip.contains(&check)
    }

    /// The event types that trigger it.
    pub fn consumes(&self) -> &[EventTy] {
        &self.input.events
    }

    /// Whether it handles failures: it takes `StepFailed`, one at a time.
    pub fn is_failure_handler(&self) -> bool {
        self.input.kind != InputKind::Collected
            && self.consumes().iter().any(|e| e.is_wrapper_named("StepFailed"))
    }

    /// The event types it hands to other steps: returned or sent.
    pub fn produces(&self) -> impl Iterator<Item = &EventTy> {
        self.output.shape.events().iter().chain(&self.sends)
    }
}

/// The event parameter of a step.
pub struct Input {
    pub kind: InputKind,
    /// The event types it accepts (several for a union).
    pub events: Vec<EventTy>,
    /// The parameter's type as written.
    pub ty: syn::Type,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputKind {
    /// `ev: E`.
    One,
    /// `ev: OneOf<(A, B)>`: any of several types.
    Union,
    /// `ev: Collected<E>`: every `E` of a fan-out at once.
    Collected,
}

/// A step parameter other than `&self`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Param {
    Context,
    Event,
    /// The step's resource parameter at this index of `Step::resources`.
    Resource(usize),
}

/// A parameter `name: Resource<T>` of a step or a factory: the name says
/// which resource.
pub struct ResourceParam {
    pub name: syn::Ident,
    /// `Resource<T>` as written.
    pub ty: syn::Type,
}

/// A `#[resource]` method: the factory of the resource of its name.
pub struct Factory {
    pub ident: syn::Ident,
    /// Whether it takes `&self`.
    pub receiver: bool,
    pub is_async: bool,
    /// The resources it is built from.
    pub needs: Vec<ResourceParam>,
    /// `T` of its return type `T` or `Result<T, E>`.
    pub value: syn::Type,
    pub fallible: bool,
    /// `#[resource(cache = false)]` makes it `false`: a fresh value per use.
    pub cache: bool,
}

/// What a step returns.
pub struct Output {
    /// Whether it is wrapped in `Result<_, E>`.
    pub fallible: bool,
    pub shape: Shape,
}

/// How many events one invocation emits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arity {
    /// `X`: exactly one.
    One,
    /// `Option<X>`: one or none.
    Optional,
    /// `Vec<X>`: any number (fan-out).
    Many,
}

/// A step's return form: an arity of `X`, where `X` is one event type or
/// `Emit<(A, B, ..)>`, a choice between several (a branch).
#[derive(Debug)]
pub struct Shape {
    pub arity: Arity,
    /// The event types; more than one means `X` is an `Emit` branch.
    pub events: Vec<EventTy>,
}

impl Shape {
    /// Every event type the step may emit.
    pub fn events(&self) -> &[EventTy] {
        &self.events
    }
}

/// An event type as written in a signature, with the key it is compared by.
#[derive(Clone, Debug)]
pub struct EventTy {
    pub ty: syn::Type,
    /// The type's tokens without white space and without a leading `::`,
    /// `crate::` or `self::`: two signatures name the same event when their
    /// keys are equal.
    pub key: String,
}

impl PartialEq for EventTy {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl EventTy {
    pub fn new(ty: syn::Type) -> Self {
        let mut key: String =
            ty.to_token_stream().to_string().chars().filter(|c| !c.is_whitespace()).collect();
        for prefix in ["::", "crate::", "self::"] {
            if let Some(rest) = key.strip_prefix(prefix) {
                key = rest.to_owned();
            }
        }
        Self { ty, key }
    }

    /// The last path segment, if the type is a path.
    pub fn last_segment(&self) -> Option<&syn::PathSegment> {
        last_segment(&self.ty)
    }

    /// Whether the type is the library's `StartEvent<T>` (or `StopEvent<T>`), by name.
    pub fn is_wrapper_named(&self, name: &str) -> bool {
        self.last_segment().is_some_and(|s| s.ident == name)
    }

    /// The `T` of `StartEvent<T>` / `StopEvent<T>`.
    pub fn payload(&self) -> Option<&syn::Type> {
        first_generic(self.last_segment()?)
    }
}

/// `check_answer` → `CheckAnswer`; `r#match` → `Match`.
pub fn camel_case(name: &str) -> String {
    name.split('_')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map(|c| c.to_uppercase().chain(chars).collect::<String>()).unwrap_or_default()
        })
        .collect()
}

/// The last segment of a plain path type.
pub fn last_segment(ty: &syn::Type) -> Option<&syn::PathSegment> {
    match ty {
        syn::Type::Path(p) if p.qself.is_none() => p.path.segments.last(),
        syn::Type::Group(g) => last_segment(&g.elem),
        syn::Type::Paren(p) => last_segment(&p.elem),
        _ => None,
    }
}

/// The first type argument of a path segment: `T` in `Vec<T>`.
pub fn first_generic(segment: &syn::PathSegment) -> Option<&syn::Type> {
    match &segment.arguments {
        syn::PathArguments::AngleBracketed(args) => args.args.iter().find_map(|a| match a {
            syn::GenericArgument::Type(t) => Some(t),
            _ => None,
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    #[test]
    fn keys_ignore_spacing_and_crate_prefixes() {
        let a = EventTy::new(parse_quote!(crate::events::Retrieved));
        let b = EventTy::new(parse_quote!(events::Retrieved));
        assert_eq!(a, b);
        assert_eq!(a.key, "events::Retrieved");
        let s = EventTy::new(parse_quote!(StartEvent<Query>));
        assert!(s.is_wrapper_named("StartEvent"));
        assert_eq!(s.payload().unwrap().to_token_stream().to_string(), "Query");
    }

    #[test]
    fn check_names_round_trip() {
        for check in Check::ALL {
            assert_eq!(Check::from_name(check.name()), Some(check));
        }
        assert_eq!(Check::from_name("dead-end"), None);
    }
}
