//! Procedural macros of `workflow-core`; use them through that crate.
//!
//! `#[workflow]` runs four stages, each in its own module and unit-tested on
//! its own: `parse` (syn → AST with spans, then `identity`, which decides
//! which spellings name one event), `analyze` (the graph checks,
//! every error collected in one `internals::Ctxt`), `lower` (tables of
//! events, steps and routes) and `codegen` (tokens).

mod analyze;
mod codegen;
mod expand;
mod identity;
mod internals;
mod lower;
mod parse;

use proc_macro::TokenStream;

/// Turns an `impl` block with `#[step]` methods into a workflow; see `workflow_core`.
#[proc_macro_attribute]
pub fn workflow(args: TokenStream, input: TokenStream) -> TokenStream {
    match syn::parse::<syn::ItemImpl>(input) {
        Ok(item) => expand::workflow(args.into(), item).into(),
        Err(e) => syn::Error::new(
            e.span(),
            "`#[workflow]` goes on an `impl` block: `#[workflow] impl MyFlow { .. }`",
        )
        .to_compile_error()
        .into(),
    }
}

/// Marks a step; only meaningful inside a `#[workflow]` impl, which removes it.
#[proc_macro_attribute]
pub fn step(_args: TokenStream, input: TokenStream) -> TokenStream {
    expand::stray_step(input.into()).into()
}

/// Makes a struct or enum an event: adds the derives an event needs.
#[proc_macro_attribute]
pub fn event(args: TokenStream, input: TokenStream) -> TokenStream {
    expand::with_derives(args.into(), input.into(), expand::Role::Event).into()
}

/// Makes a struct or enum fit to travel in events or be a workflow's state.
#[proc_macro_attribute]
pub fn data(args: TokenStream, input: TokenStream) -> TokenStream {
    expand::with_derives(args.into(), input.into(), expand::Role::Data).into()
}

/// Implements `workflow_core::Event`.
#[proc_macro_derive(Event)]
pub fn derive_event(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    expand::derive_event(input).into()
}
