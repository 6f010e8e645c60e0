//! Stage 4: the IR → tokens. Everything the generated code names in the
//! runtime goes through `::workflow_core::__private`, so it needs no user import.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;

use crate::lower::{Ir, ShapeIr, StepIr};
use crate::parse::ast::{last_segment, Arity, InputKind, Param};

fn rt() -> TokenStream {
    quote!(::workflow_core::__private)
}

/// The user's impl (without `#[step]` attributes, its steps' contexts typed
/// with the event enum) plus everything generated.
pub fn codegen(
    item: &syn::ItemImpl,
    step_methods: &[syn::Ident],
    same: &[(syn::Type, syn::Type)],
    ir: &Ir,
) -> TokenStream {
    let mut item = item.clone();
    let enum_ident = &ir.enum_ident;
    rewrite_contexts(&mut item, step_methods, &syn::parse_quote!(#enum_ident));
    let graph_impl = graph_impl(ir);
    let enums = enums(ir);
    let event_impl = workflow_event_impl(ir);
    let workflow_impl = workflow_impl(ir);
    let registration = if ir.generics.params.is_empty() {
        registration(ir, &ir.self_ty, None)
    } else {
        let each = ir.register.iter().map(|ty| {
            let name: String = quote::ToTokens::to_token_stream(ty)
                .to_string()
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect();
            registration(ir, ty, Some(&name))
        });
        quote!(#(#each)*)
    };
    let same_types = same_types(same);
    let info_const = &ir.info_const;
    let info = info(ir);
    quote! {
        #item
        #[doc(hidden)]
        #[allow(non_upper_case_globals)]
        const #info_const: &'static ::workflow_core::__private::WorkflowInfo = &#info;
        #same_types
        #graph_impl
        #enums
        #event_impl
        #workflow_impl
        #registration
    }
}

/// Has rustc confirm that spellings the macro took as one event are one
/// type: a mismatch is an error at the second spelling, "expected due to"
/// the first.
pub fn same_types(same: &[(syn::Type, syn::Type)]) -> TokenStream {
    if same.is_empty() {
        return TokenStream::new();
    }
    let checks = same.iter().map(|(kept, other)| {
        let expected = quote_spanned!(kept.span()=> ::core::marker::PhantomData<#kept>);
        let found = quote_spanned!(other.span()=> ::core::marker::PhantomData::<#other>);
        quote!(let _: #expected = #found;)
    });
    quote! {
        const _: fn() = || {
            #(#checks)*
        };
    }
}

/// The impl's generics and the `where` clause of the `Workflow` impl: the
/// user's bounds, plus `Send + Sync + 'static` on every type parameter,
/// which a workflow shared between tasks needs.
pub fn workflow_generics(generics: &syn::Generics) -> (TokenStream, TokenStream) {
    let (impl_generics, _, where_clause) = generics.split_for_impl();
    let mut predicates: Vec<TokenStream> =
        where_clause.map(|w| w.predicates.iter().map(|p| quote!(#p)).collect()).unwrap_or_default();
    for param in generics.type_params() {
        let ident = &param.ident;
        predicates.push(quote!(#ident: ::core::marker::Send + ::core::marker::Sync + 'static));
    }
    let where_clause = if predicates.is_empty() { quote!() } else { quote!(where #(#predicates),*) };
    (quote!(#impl_generics), where_clause)
}

/// Submits the workflow (or one instantiation of a generic workflow, then
/// under `name`) to the registry: its graph, schemas, and a function that
/// starts it from JSON. An instantiation that does not satisfy the
/// workflow's bounds fails here, at the type written in `register = [..]`.
fn registration(ir: &Ir, self_ty: &syn::Type, name: Option<&str>) -> TokenStream {
    let rt = rt();
    let (input, output) = (&ir.start.payload, &ir.stop.payload);
    let named = name.map(|name| quote!(.named(#name)));
    let construct = match &ir.constructor {
        Some(path) => quote!(::core::option::Option::Some(|| #rt::Constructed::into_workflow(#path()))),
        None => quote!((&&#rt::Probe::<#self_ty>::new()).constructor()),
    };
    // `event_schema::<T>` requires `T: Event`: this is also where rustc
    // confirms, at the user's own type, that every event type is an event.
    let schemas = ir.events.iter().map(|e| {
        let (name, ty) = (&e.name, &e.ty);
        quote_spanned!(ty.span()=> (#name, #rt::event_schema::<#ty>()))
    });
    quote! {
        const _: () = {
            #[allow(unused_imports)]
            use #rt::{ByDefault as _, NoConstructor as _};

            fn start(
                input: #rt::serde_json::Value,
                options: ::workflow_core::RunOptions<()>,
            ) -> ::core::result::Result<::workflow_core::JsonRun, ::workflow_core::StartError> {
                let construct: #rt::Constructor<#self_ty> = #construct;
                #rt::start_json::<#self_ty>(construct, input, options)
            }

            fn event_schemas() -> ::std::vec::Vec<(&'static str, #rt::schemars::Schema)> {
                ::std::vec![#(#schemas),*]
            }

            #rt::inventory::submit! {
                ::workflow_core::Registration::new(
                    <#self_ty as #rt::Workflow>::INFO,
                    ::core::module_path!(),
                    #rt::schema_of::<#input>,
                    #rt::schema_of::<#output>,
                    event_schemas,
                    start,
                )#named
            }
        };
    }
}

/// An inherent impl whose rustdoc is the workflow's graph, as an inline SVG
/// (drawn at compile time, so it needs no script, flag or network) and as
/// text, with `mermaid()` in it: rustdoc shows an impl's docs only when the
/// impl has a public item, and the steps are usually private.
fn graph_impl(ir: &Ir) -> TokenStream {
    let Ir { self_ty, name, mermaid_fn, info_const, generics, .. } = ir;
    let (impl_generics, _, where_clause) = generics.split_for_impl();
    let doc = format!(
        "# Workflow graph\n\nThe steps of `{name}` (boxes) and the events between them (rounded; start and stop in \
         green), as `#[workflow]` read them from the step signatures. Dashed arrows go to the caller's stream.\n\n\
         {svg}\n\n<details><summary>The graph as text</summary>\n\n```text\n{text}```\n\n</details>\n",
        svg = ir.graph.svg(None),
        text = ir.graph.text(),
    );
    quote! {
        #[doc = #doc]
        impl #impl_generics #self_ty #where_clause {
            /// The graph of every flow this workflow allows, as a mermaid `flowchart`.
            pub fn #mermaid_fn() -> &'static str {
                #info_const.mermaid
            }
        }
    }
}

/// Gives each step's `&Context<S>` parameter the workflow's event type:
/// `&::workflow_core::Context<S, E>`, so that `ctx.send_event` and friends
/// accept exactly this workflow's events.
pub fn rewrite_contexts(item: &mut syn::ItemImpl, step_methods: &[syn::Ident], event: &syn::Type) {
    for impl_item in &mut item.items {
        let syn::ImplItem::Fn(method) = impl_item else { continue };
        if !step_methods.contains(&method.sig.ident) {
            continue;
        }
        for input in &mut method.sig.inputs {
            let syn::FnArg::Typed(arg) = input else { continue };
            let syn::Type::Reference(reference) = &mut *arg.ty else { continue };
            let Some(segment) = last_segment(&reference.elem).filter(|s| s.ident == "Context") else {
                continue;
            };
            let syn::PathArguments::AngleBracketed(args) = &segment.arguments else { continue };
            let Some(syn::GenericArgument::Type(state)) = args.args.first() else { continue };
            let state = state.clone();
            *reference.elem =
                syn::parse_quote_spanned!(reference.elem.span()=> ::workflow_core::Context<#state, #event>);
        }
    }
}

/// The event and step enums with their conversions.
fn enums(ir: &Ir) -> TokenStream {
    let (event_enum, conversions) = event_enum(ir);
    let (step_enum, step_index) = step_enum(ir);
    quote! {
        #event_enum
        #step_enum
        #conversions
        #step_index
    }
}

/// The event enum's definition and its conversions.
fn event_enum(ir: &Ir) -> (TokenStream, TokenStream) {
    let rt = rt();
    let Ir { enum_ident: enum_name, name, .. } = ir;
    let enum_ident = &quote!(#enum_name);
    let variants = ir.events.iter().map(|e| {
        let (variant, ty) = (&e.variant, &e.ty);
        let doc = format!("`{}`", e.name);
        quote!(#[doc = #doc] #variant(#ty))
    });
    // Spanned at the user's type: two names of one type (an alias beside
    // the type itself) make conflicting impls, shown there.
    let conversions = ir.events.iter().enumerate().map(|(index, e)| {
        let (variant, ty) = (&e.variant, &e.ty);
        quote_spanned! {ty.span()=>
            impl ::core::convert::From<#ty> for #enum_ident {
                fn from(event: #ty) -> Self {
                    #enum_ident::#variant(event)
                }
            }
            #[diagnostic::do_not_recommend]
            impl #rt::Wrap<#ty> for #enum_ident {
                fn wrap(event: #ty) -> Self {
                    #enum_ident::#variant(event)
                }
            }
            #[diagnostic::do_not_recommend]
            impl #rt::Variant<#ty> for #enum_ident {
                const INDEX: usize = #index;
                fn as_variant(&self) -> ::core::option::Option<&#ty> {
                    match self {
                        #enum_ident::#variant(event) => ::core::option::Option::Some(event),
                        _ => ::core::option::Option::None,
                    }
                }
                fn into_variant(self) -> ::core::result::Result<#ty, Self> {
                    match self {
                        #enum_ident::#variant(event) => ::core::result::Result::Ok(event),
                        other => ::core::result::Result::Err(other),
                    }
                }
            }
        }
    });
    let unions = ir.unions.iter().map(|(ty, members)| {
        let choice = format_ident!("Choice{}", members.len());
        let arms = members.iter().enumerate().map(|(n, &e)| {
            let (variant, position) = (&ir.events[e].variant, format_ident!("V{}", n));
            quote!(#rt::#choice::#position(event) => #enum_ident::#variant(event))
        });
        quote! {
            #[diagnostic::do_not_recommend]
            impl #rt::Wrap<#ty> for #enum_ident {
                fn wrap(event: #ty) -> Self {
                    match event.into_choice() { #(#arms,)* }
                }
            }
        }
    });
    let doc =
        format!("Every event of workflow [`{name}`], one variant per type; generated by `#[workflow]`.");
    let definition = quote! {
        #[doc = #doc]
        #[derive(::core::clone::Clone, ::core::fmt::Debug)]
        #[allow(private_interfaces)]
        pub enum #enum_name {
            #(#variants,)*
        }
    };
    (definition, quote!(#(#conversions)* #(#unions)*))
}

/// The step enum's definition and its conversion.
fn step_enum(ir: &Ir) -> (TokenStream, TokenStream) {
    let Ir { step_enum: step_name, name, .. } = ir;
    let step_enum = quote!(#step_name);
    let variants = ir.steps.iter().map(|s| {
        let (variant, doc) = (&s.variant, format!("Step `{}`.", s.name));
        quote!(#[doc = #doc] #variant)
    });
    let arms = ir.steps.iter().enumerate().map(|(i, s)| {
        let variant = &s.variant;
        quote!(#step_enum::#variant => #i)
    });
    let doc = format!(
        "The steps of workflow [`{name}`], to name one in `ctx.send_event_to`; generated by `#[workflow]`."
    );
    let definition = quote! {
        #[doc = #doc]
        #[derive(::core::clone::Clone, ::core::marker::Copy, ::core::fmt::Debug, ::core::cmp::PartialEq, ::core::cmp::Eq)]
        pub enum #step_name {
            #(#variants,)*
        }
    };
    let conversion = quote! {
        impl ::core::convert::From<#step_enum> for usize {
            fn from(step: #step_enum) -> usize {
                match step { #(#arms,)* }
            }
        }
    };
    (definition, conversion)
}

fn workflow_event_impl(ir: &Ir) -> TokenStream {
    let rt = rt();
    let Ir { info_const, .. } = ir;
    let (enum_name, step_name) = (&ir.enum_ident, &ir.step_enum);
    let (enum_ident, step_enum) = (&quote!(#enum_name), &quote!(#step_name));
    let names = ir.events.iter().map(|e| {
        let (variant, name) = (&e.variant, &e.name);
        quote!(#enum_ident::#variant(_) => #name)
    });
    let indices = ir.events.iter().enumerate().map(|(i, e)| {
        let variant = &e.variant;
        quote!(#enum_ident::#variant(_) => #i)
    });
    let membership = |steps_of: fn(&crate::lower::EventIr) -> &Vec<usize>| {
        let arms: Vec<TokenStream> = ir
            .events
            .iter()
            .filter(|e| !steps_of(e).is_empty())
            .map(|e| {
                let (variant, steps) = (&e.variant, steps_of(e));
                quote!((#enum_ident::#variant(_), #(#steps)|*) => true)
            })
            .collect();
        quote!(match (self, step) { #(#arms,)* _ => false })
    };
    let accepted_by = membership(|e| &e.consumers);
    let sent_by = membership(|e| &e.senders);
    let streamed_by = membership(|e| &e.streamers);
    let to_json = ir.events.iter().map(|e| {
        let variant = &e.variant;
        quote!(#enum_ident::#variant(event) => #rt::serde_json::to_value(event))
    });
    let from_json = ir.events.iter().map(|e| {
        let (variant, name, ty) = (&e.variant, &e.name, &e.ty);
        quote!(#name => ::core::option::Option::Some(#rt::serde_json::from_value::<#ty>(data).map(#enum_ident::#variant)))
    });
    let step_failed = match ir.step_failed {
        Some(e) => {
            let variant = &ir.events[e].variant;
            quote!(::core::option::Option::Some(#enum_ident::#variant(failure)))
        }
        None => quote!({
            let _ = failure;
            ::core::option::Option::None
        }),
    };
    quote! {
        impl #rt::WorkflowEvent for #enum_ident {
            type Step = #step_enum;
            const INFO: &'static #rt::WorkflowInfo = #info_const;

            fn name(&self) -> &'static str {
                match self { #(#names,)* }
            }

            fn index(&self) -> usize {
                match self { #(#indices,)* }
            }

            fn accepted_by(&self, step: #rt::StepId) -> bool {
                #accepted_by
            }

            fn sent_by(&self, step: #rt::StepId) -> bool {
                #sent_by
            }

            fn streamed_by(&self, step: #rt::StepId) -> bool {
                #streamed_by
            }

            fn to_json(&self) -> ::core::result::Result<#rt::serde_json::Value, #rt::serde_json::Error> {
                match self { #(#to_json,)* }
            }

            fn from_json(
                name: &str,
                data: #rt::serde_json::Value,
            ) -> ::core::option::Option<::core::result::Result<Self, #rt::serde_json::Error>> {
                match name {
                    #(#from_json,)*
                    _ => ::core::option::Option::None,
                }
            }

            fn step_failed(failure: #rt::StepFailed) -> ::core::option::Option<Self> {
                #step_failed
            }
        }
    }
}

fn workflow_impl(ir: &Ir) -> TokenStream {
    let rt = rt();
    let Ir { self_ty, state, .. } = ir;
    let enum_name = &ir.enum_ident;
    let enum_ident = &quote!(#enum_name);
    let (input, output) = (&ir.start.payload, &ir.stop.payload);
    let start_variant = &ir.events[ir.start.event].variant;
    let start_event = if ir.start.wrapped {
        quote!(#enum_ident::#start_variant(::workflow_core::StartEvent::new(input)))
    } else {
        quote!(#enum_ident::#start_variant(input))
    };
    let stop_variant = &ir.events[ir.stop.event].variant;
    let stop_payload = if ir.stop.wrapped { quote!(event.result) } else { quote!(event) };

    let routes = ir.events.iter().enumerate().filter(|(i, _)| *i != ir.stop.event).map(|(_, e)| {
        let (variant, steps, collectors, request) = (&e.variant, &e.consumers, &e.collectors, e.request);
        quote! {
            event @ #enum_ident::#variant(_) => #rt::Dispatch::Route(
                &#rt::Route { steps: &[#(#steps),*], collectors: &[#(#collectors),*], request: #request },
                event,
            )
        }
    });
    let retries = ir.steps.iter().enumerate().filter_map(|(i, s)| {
        let retry = s.retry.as_ref()?;
        Some(quote!(#i => ::core::option::Option::Some(#retry)))
    });
    let calls = ir.steps.iter().enumerate().map(|(i, step)| step_call(ir, i, step));
    let info_const = &ir.info_const;
    let (impl_generics, where_clause) = workflow_generics(&ir.generics);
    quote! {
        impl #impl_generics #rt::Workflow for #self_ty #where_clause {
            type Event = #enum_ident;
            type State = #state;
            type Input = #input;
            type Output = #output;

            const INFO: &'static #rt::WorkflowInfo = #info_const;

            fn start_event(input: Self::Input) -> #enum_ident {
                #start_event
            }

            fn dispatch(event: #enum_ident) -> #rt::Dispatch<#enum_ident, Self::Output> {
                match event {
                    #enum_ident::#stop_variant(event) => #rt::Dispatch::Stop(#stop_payload),
                    #(#routes,)*
                }
            }

            fn retry_policy(step: #rt::StepId) -> ::core::option::Option<#rt::RetryPolicy> {
                match step {
                    #(#retries,)*
                    _ => ::core::option::Option::None,
                }
            }

            fn invoke(
                self: #rt::Arc<Self>,
                step: #rt::StepId,
                context: #rt::Context<#state, #enum_ident>,
                input: #rt::StepInput<#enum_ident>,
            ) -> impl ::core::future::Future<Output = #rt::StepOutcome<#enum_ident>> + ::core::marker::Send + 'static {
                async move {
                    let _ = &context;
                    let misrouted = || ::core::result::Result::Err(
                        #rt::misrouted(<Self as #rt::Workflow>::INFO, step),
                    );
                    match step {
                        #(#calls)*
                        _ => misrouted(),
                    }
                }
            }
        }
    }
}

/// One arm of `invoke`: unpack the input, call the step, then turn what it
/// returned into events. The step is called by its inherent path, so that a
/// step named like a trait method (`start`, `run`) cannot be mistaken for it.
/// The tokens resolve at the call site but point at the step, so that an
/// error in them (a step future that is not `Send`, say) is shown there.
fn step_call(ir: &Ir, index: usize, step: &StepIr) -> TokenStream {
    let rt = rt();
    let Ir { self_ty, .. } = ir;
    let enum_name = &ir.enum_ident;
    let enum_ident = &quote!(#enum_name);
    let ident = &step.ident;
    let variant = |e: usize| &ir.events[e].variant;
    let unpack = match step.input {
        InputKind::One => {
            let v = variant(step.consumes[0]);
            quote!(#rt::StepInput::One(#enum_ident::#v(event)) => event,)
        }
        InputKind::Union => {
            let ty = &step.input_ty;
            let arms = step.consumes.iter().map(|&e| {
                let v = variant(e);
                quote!(#rt::StepInput::One(#enum_ident::#v(event)) => <#ty>::new(event),)
            });
            quote!(#(#arms)*)
        }
        InputKind::Collected => {
            let v = variant(step.consumes[0]);
            quote! {
                #rt::StepInput::Collected(events) => {
                    let mut items = ::std::vec::Vec::with_capacity(events.len());
                    for event in events {
                        match event {
                            #enum_ident::#v(event) => items.push(event),
                            _ => return misrouted(),
                        }
                    }
                    #rt::Collected::new(items)
                }
            }
        }
    };
    // The event argument points at the parameter's type, so that a type the
    // macro took for another spelling of an event shows its mismatch there.
    let event_arg = quote_spanned!(step.input_ty.span()=> event);
    let args = step.params.iter().map(|p| match p {
        Param::Context => quote!(&context),
        Param::Event => event_arg.clone(),
    });
    let emitted = emitted(ir, &step.shape);
    let result = if step.fallible {
        quote! {
            match out {
                ::core::result::Result::Ok(out) => ::core::result::Result::Ok(#emitted),
                ::core::result::Result::Err(error) => ::core::result::Result::Err(#rt::box_error(error)),
            }
        }
    } else {
        quote!(::core::result::Result::Ok(#emitted))
    };
    let span = Span::call_site().located_at(ident.span());
    quote_spanned! {span=>
        #index => {
            let event = match input {
                #unpack
                _ => return misrouted(),
            };
            let out = <#self_ty>::#ident(&*self, #(#args),*).await;
            #result
        }
    }
}

/// Converts `out`, the step's successful return value, into `Emitted`.
fn emitted(ir: &Ir, shape: &ShapeIr) -> TokenStream {
    let rt = rt();
    let enum_name = &ir.enum_ident;
    let enum_ident = &quote!(#enum_name);
    // One `X` (bound to `e`) as a value of the event enum.
    let item = if let [event] = shape.events[..] {
        let variant = &ir.events[event].variant;
        quote!(#enum_ident::#variant(e))
    } else {
        let choice = format_ident!("Choice{}", shape.events.len());
        let arms = shape.events.iter().enumerate().map(|(n, &event)| {
            let (variant, position) = (&ir.events[event].variant, format_ident!("V{}", n));
            quote!(#rt::#choice::#position(e) => #enum_ident::#variant(e))
        });
        quote!(match e.into_choice() { #(#arms,)* })
    };
    match shape.arity {
        Arity::One => quote!({ let e = out; #rt::Emitted::One(#item) }),
        Arity::Optional => quote! {
            match out {
                ::core::option::Option::Some(e) => #rt::Emitted::One(#item),
                ::core::option::Option::None => #rt::Emitted::Nothing,
            }
        },
        Arity::Many => quote! {
            #rt::Emitted::Many(::core::iter::IntoIterator::into_iter(out).map(|e| #item).collect())
        },
    }
}

fn info(ir: &Ir) -> TokenStream {
    let rt = rt();
    let name = ir.name.to_string();
    let start = &ir.events[ir.start.event].name;
    let stop = &ir.events[ir.stop.event].name;
    let events = ir.events.iter().map(|e| &e.name);
    let steps = ir.steps.iter().enumerate().map(|(i, s)| {
        let step_name = &s.name;
        let accepts = s.consumes.iter().map(|&e| &ir.events[e].name);
        let emits = ir.events.iter().filter(|e| e.senders.contains(&i)).map(|e| &e.name);
        let streams = ir.events.iter().filter(|e| e.streamers.contains(&i)).map(|e| &e.name);
        let workers = s.num_workers;
        let fan_in = &s.fan_in;
        let waits = (0..ir.events.len()).filter(|&e| ir.events[e].waiters.contains(&i));
        quote! {
            #rt::StepInfo {
                name: #step_name,
                accepts: &[#(#accepts),*],
                emits: &[#(#emits),*],
                streams: &[#(#streams),*],
                num_workers: #workers,
                fan_in: &[#(#fan_in),*],
                waits: &[#(#waits),*],
            }
        }
    });
    let mermaid = ir.graph.mermaid(None);
    quote! {
        #rt::WorkflowInfo {
            name: #name,
            start: #start,
            stop: #stop,
            events: &[#(#events),*],
            steps: &[#(#steps),*],
            mermaid: #mermaid,
        }
    }
}
