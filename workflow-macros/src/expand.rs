//! The pipeline: parse → analyze → lower → codegen, or errors plus a fallback.

use proc_macro2::TokenStream;
use quote::quote;

use crate::analyze::analyze;
use crate::codegen::codegen;
use crate::internals::Ctxt;
use crate::lower::lower;
use crate::parse::parse;

pub fn workflow(args: TokenStream, item: syn::ItemImpl) -> TokenStream {
    let cx = Ctxt::new();
    let def = parse(args, item, &cx);
    let analysis = analyze(&def, &cx);
    match cx.check() {
        Ok(()) => {
            let analysis = analysis.expect("analysis succeeds when no error was reported");
            codegen(&def.item, &lower(&def, analysis))
        }
        Err(errors) => fallback(&def.item, &errors),
    }
}

/// On error: the errors, and the impl as written (without `#[step]`), so that
/// the step bodies are still type-checked and the user sees the real errors
/// rather than a cascade of "unknown attribute" or "missing method" ones.
fn fallback(item: &syn::ItemImpl, errors: &[syn::Error]) -> TokenStream {
    let errors = errors.iter().map(syn::Error::to_compile_error);
    quote! {
        #item
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
                + #rt::serde::Serialize + #rt::serde::de::DeserializeOwned + 'static
        });
    }
    let event_name = name.to_string();
    quote! {
        impl #impl_generics ::workflow_core::Event for #name #ty_generics #where_clause {
            const NAME: &'static str = #event_name;
        }
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
