//! The pipeline: parse → analyze → lower → codegen, or errors plus a fallback.

use proc_macro2::TokenStream;
use quote::quote;

use crate::analyze::{analyze, Analysis};
use crate::codegen::{codegen, rewrite_contexts};
use crate::identity::resolve;
use crate::internals::{Ctxt, Reported};
use crate::lower::{lower, payload};
use crate::parse::ast::{EventTy, WorkflowDef};
use crate::parse::parse;

pub fn workflow(args: TokenStream, item: syn::ItemImpl) -> TokenStream {
    let cx = Ctxt::new();
    let mut def = parse(args, item, &cx);
    def.same_types = resolve(&mut def, &cx);
    let analysis = analyze(&def, &cx);
    match cx.check_guarded() {
        Ok(()) => {
            let ir = lower(&def, analysis);
            codegen(&def.item, &def.step_methods, &def.same_types, &ir)
        }
        Err(errors) => fallback(&def, &analysis, &errors),
    }
}

/// An error as tokens: at once (`compile_error!`) for a signature error; for
/// a graph error, a constant that rustc evaluates only once every type the
/// error is about is proven an event. Where one is not (a type alias of
/// `Emit<..>`, say), its `Event` error, with the alias hint, is the one the
/// user sees, not the graph errors it caused.
fn report(
    (error, about): &Reported,
    first_spelling: &dyn Fn(&syn::Type) -> Option<syn::Type>,
) -> TokenStream {
    let Some(about) = about else { return error.to_compile_error() };
    // `compile_error!` tokens carry the error's first and last spans: the
    // panic gets them too, so that rustc underlines the same range.
    let shown = error.to_compile_error();
    let mut spans = shown.clone().into_iter().map(|t| t.span());
    let start = spans.next().unwrap_or_else(proc_macro2::Span::call_site);
    let end = spans.last().unwrap_or(start);
    let message = error.to_string().replace('{', "{{").replace('}', "}}");
    let message = proc_macro2::Literal::string(&message);
    let mut args = proc_macro2::Group::new(proc_macro2::Delimiter::Parenthesis, quote!(#message));
    args.set_span(end);
    let panic = quote::quote_spanned!(start=> ::core::panic!);
    let checks = about.iter().filter_map(|ty| {
        let ty = first_spelling(ty)?;
        Some(quote!(let _ = <#ty as ::workflow_core::Event>::NAME;))
    });
    quote! {
        const _: () = {
            #(#checks)*
            #panic #args;
        };
    }
}

/// On error: the errors, the impl as written (without `#[step]`) so that the
/// step bodies are still type-checked, and a stand-in `Workflow` impl so that
/// the user's `.run(..)` calls elsewhere do not add a cascade of errors. The
/// steps' contexts get the stand-in event type, which accepts every event.
fn fallback(def: &WorkflowDef, analysis: &Analysis, errors: &[Reported]) -> TokenStream {
    // One `Event` check per event type, at its first spelling (rustc shows
    // an error once per place, so every check of a type uses that one).
    let mut firsts: Vec<(String, syn::Type)> = Vec::new();
    // A type naming a parameter of a generic impl cannot be checked outside it
    // (and is an error of its own).
    let names_a_parameter = |ty: &syn::Type| def.type_parameter_in(ty).is_some();
    for ty in def.events().into_iter().map(|e| &e.ty).filter(|ty| !names_a_parameter(ty)) {
        let key = EventTy::new(ty.clone()).key;
        if !firsts.iter().any(|(k, _)| *k == key) {
            firsts.push((key, ty.clone()));
        }
    }
    let first_spelling = |ty: &syn::Type| {
        if names_a_parameter(ty) {
            return None;
        }
        let key = EventTy::new(ty.clone()).key;
        Some(firsts.iter().find(|(k, _)| *k == key).map_or_else(|| ty.clone(), |(_, t)| t.clone()))
    };
    let event_checks = firsts
        .iter()
        .map(|(_, ty)| quote!(const _: () = { let _ = <#ty as ::workflow_core::Event>::NAME; };));
    let errors = errors.iter().map(|e| report(e, &first_spelling));
    let rt = quote!(::workflow_core::__private);
    let mut item = def.item.clone();
    rewrite_contexts(&mut item, &def.step_methods, &syn::parse_quote!(#rt::Unreachable));
    for impl_item in &mut item.items {
        if let syn::ImplItem::Fn(method) = impl_item {
            if def.unreadable_returns.contains(&method.sig.ident) {
                method.sig.output = syn::parse_quote!(-> ::core::convert::Infallible);
                method.block = syn::parse_quote!({ ::core::unreachable!() });
                method.attrs.push(syn::parse_quote!(#[allow(unused_variables)]));
            }
        }
    }
    let known = |event: Option<&EventTy>, wrapper| {
        event.map(|e| payload(e, wrapper).0).filter(|payload| !names_a_parameter(payload))
    };
    let unknown = || syn::parse_quote!(#rt::Unreachable);
    let input = known(analysis.start.as_ref(), "StartEvent").unwrap_or_else(unknown);
    let output = known(analysis.stop.as_ref(), "StopEvent").unwrap_or_else(unknown);
    let state = analysis.state.clone().unwrap_or_else(|| syn::parse_quote!(()));
    let self_ty = &item.self_ty;
    let only_types = item.generics.params.iter().all(|p| matches!(p, syn::GenericParam::Type(_)));
    let (impl_generics, where_clause) = crate::codegen::workflow_generics(&item.generics);
    let stand_in = (item.trait_.is_none() && only_types).then(|| {
        quote! {
            impl #impl_generics #rt::Workflow for #self_ty #where_clause {
                type Event = #rt::Unreachable;
                type State = #state;
                type Input = #input;
                type Output = #output;
                const INFO: &'static #rt::WorkflowInfo = &#rt::UNREACHABLE_INFO;
                fn start_event(_: Self::Input) -> #rt::Unreachable {
                    ::core::unreachable!()
                }
                fn output(event: #rt::Unreachable) -> ::core::option::Option<Self::Output> {
                    match event {}
                }
                fn retry_policy(
                    _: #rt::StepId,
                ) -> ::core::option::Option<::std::boxed::Box<dyn #rt::RetryPolicy>> {
                    ::core::option::Option::None
                }
                fn invoke(
                    self: #rt::Arc<Self>,
                    _: #rt::StepId,
                    _: #rt::Context<#state, #rt::Unreachable>,
                    _: #rt::StepInput<#rt::Unreachable>,
                ) -> impl ::core::future::Future<Output = #rt::StepOutcome<#rt::Unreachable>> + ::core::marker::Send + 'static {
                    async move { ::core::unreachable!() }
                }
            }
        }
    });
    let same_types = crate::codegen::same_types(&def.same_types);
    // A workflow with a lifetime or const parameter can have no `Workflow`
    // impl at all; an inherent `run` keeps the caller's `.run(..)` from
    // adding errors to the one that says why.
    let user_run = item.items.iter().any(|i| matches!(i, syn::ImplItem::Fn(f) if f.sig.ident == "run"));
    let run_stand_in = (item.trait_.is_none() && !only_types && !user_run).then(|| {
        let (impl_generics, _, where_clause) = item.generics.split_for_impl();
        quote! {
            impl #impl_generics #self_ty #where_clause {
                #[doc(hidden)]
                #[allow(dead_code)]
                pub fn run(
                    self,
                    _input: #input,
                ) -> impl ::core::future::Future<Output = ::core::result::Result<#output, ::workflow_core::WorkflowError>> {
                    ::core::future::pending()
                }
            }
        }
    });
    quote! {
        #item
        #stand_in
        #run_stand_in
        #same_types
        #(#event_checks)*
        #(#errors)*
    }
}

pub fn derive_event(input: syn::DeriveInput) -> TokenStream {
    if let syn::Data::Union(u) = &input.data {
        return syn::Error::new_spanned(u.union_token, "an event must be a struct or an enum")
            .to_compile_error();
    }
    let name = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let rt = quote!(::workflow_core::__private);
    let mut where_clause = where_clause.cloned();
    if !input.generics.params.is_empty() {
        let clause = where_clause.get_or_insert_with(|| syn::parse_quote!(where));
        clause.predicates.push(syn::parse_quote! {
            Self: ::core::clone::Clone + ::core::fmt::Debug + ::core::marker::Send
                + #rt::serde::Serialize + #rt::serde::de::DeserializeOwned + #rt::schemars::JsonSchema + 'static
        });
    }
    let event_name = name.to_string();
    quote! {
        #[diagnostic::do_not_recommend]
        impl #impl_generics ::workflow_core::Event for #name #ty_generics #where_clause {
            const NAME: &'static str = #event_name;
        }
    }
}

/// What `#[event]` or `#[data]` marks.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Event,
    Data,
}

/// `#[event]` / `#[data]`: the item with the derives it needs, routed
/// through `workflow_core`, so that a user's crate needs neither serde nor
/// schemars in its own `Cargo.toml`. A derive the item already has is not
/// added again.
pub fn with_derives(args: TokenStream, item: TokenStream, role: Role) -> TokenStream {
    let name = if role == Role::Event { "event" } else { "data" };
    let input = match syn::parse2::<syn::DeriveInput>(item.clone()) {
        Ok(input) => input,
        Err(_) => {
            let error = syn::Error::new(
                proc_macro2::Span::call_site(),
                format!("`#[{name}]` goes on a struct or an enum"),
            )
            .to_compile_error();
            return quote!(#error #item);
        }
    };
    if !args.is_empty() {
        let error = syn::Error::new_spanned(&args, format!("`#[{name}]` takes no arguments"));
        let error = error.to_compile_error();
        return quote!(#error #input);
    }
    let present: Vec<String> = input
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("derive"))
        .filter_map(|a| {
            a.parse_args_with(syn::punctuated::Punctuated::<syn::Path, syn::Token![,]>::parse_terminated).ok()
        })
        .flat_map(|paths| paths.into_iter().filter_map(|p| p.segments.last().map(|s| s.ident.to_string())))
        .collect();
    let rt = quote!(::workflow_core::__private);
    let mut wanted: Vec<(&str, TokenStream)> = vec![
        ("Clone", quote!(::core::clone::Clone)),
        ("Debug", quote!(::core::fmt::Debug)),
        ("Serialize", quote!(#rt::serde::Serialize)),
        ("Deserialize", quote!(#rt::serde::Deserialize)),
        ("JsonSchema", quote!(#rt::schemars::JsonSchema)),
    ];
    if role == Role::Event {
        wanted.push(("Event", quote!(::workflow_core::Event)));
    }
    let derives = wanted.into_iter().filter(|(n, _)| !present.iter().any(|p| p == n)).map(|(_, path)| path);
    let serde_crate = "::workflow_core::__private::serde";
    let schemars_crate = "::workflow_core::__private::schemars";
    quote! {
        #[derive(#(#derives),*)]
        #[serde(crate = #serde_crate)]
        #[schemars(crate = #schemars_crate)]
        #input
    }
}

pub fn stray_step(item: TokenStream) -> TokenStream {
    let error = syn::Error::new(
        proc_macro2::Span::call_site(),
        "`#[step]` marks a method of a `#[workflow]` impl; put `#[workflow]` on the impl block",
    )
    .to_compile_error();
    quote!(#error #item)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Expands every `#[workflow]` impl of `docs/expanded/branch.rs` and
    /// compares the formatted file with `branch.expanded.rs`, so that a reader
    /// can open exactly what the macro generates: one event enum, `match`
    /// routing, and no `TypeId`, `HashMap` or `dyn Any`.
    #[test]
    fn expansion_matches_the_checked_in_snapshot() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/expanded");
        let input = std::fs::read_to_string(dir.join("branch.rs")).unwrap();
        let mut file: syn::File = syn::parse_str(&input).unwrap();
        let mut items = Vec::new();
        for item in std::mem::take(&mut file.items) {
            match item {
                syn::Item::Impl(mut imp) if imp.attrs.iter().any(|a| a.path().is_ident("workflow")) => {
                    imp.attrs.retain(|a| !a.path().is_ident("workflow"));
                    let expanded: syn::File = syn::parse2(workflow(TokenStream::new(), imp)).unwrap();
                    items.extend(expanded.items);
                }
                other => items.push(other),
            }
        }
        file.items = items;
        let expanded = format!(
            "// @generated from branch.rs by the expansion snapshot test of workflow-macros.\n{}",
            prettyplease::unparse(&file)
        );
        for forbidden in ["TypeId", "HashMap", "dyn Any"] {
            assert!(!expanded.contains(forbidden), "the expansion must not use {forbidden}");
        }
        assert_eq!(expanded.matches("pub enum AnswererEvent").count(), 1);

        let path = dir.join("branch.expanded.rs");
        if std::env::var_os("UPDATE_EXPANDED").is_some() {
            std::fs::write(&path, &expanded).unwrap();
        }
        let snapshot = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            snapshot == expanded,
            "the expansion changed; if that is intended, run \
             `UPDATE_EXPANDED=1 cargo test -p workflow-macros expansion` and review the diff"
        );
    }
}
