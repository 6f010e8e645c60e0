//! The resources' code: a builder method per `#[resource]` method (its
//! needs first, then the factory, through the instance's cache unless it
//! is uncached), what a step's call does to get its resources, and the
//! cycle check of the factory types declared elsewhere.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;

use super::{rt, workflow_generics};
use crate::lower::{FactoryIr, Ir, ResourceUse, Source};

fn builder_ident(factory: &FactoryIr) -> syn::Ident {
    format_ident!("__workflow_resource_{}", factory.name)
}

/// The expression that gets `resource` for `step` (a `&'static str`
/// expression), a `Result<Resource<T>, ResourceError>`, with `cache` the
/// instance's cache (an expression of type `&Cache`).
fn get(ir: &Ir, resource: &ResourceUse, cache: &TokenStream, step: &TokenStream) -> TokenStream {
    let rt = rt();
    match &resource.source {
        Source::Own(at) => {
            let builder = builder_ident(&ir.factories[*at]);
            quote!(self.#builder(#cache, #step).await)
        }
        // The type is spanned where it is written: one that is no factory
        // is reported there (here and in `check`, with the same message).
        Source::Shared(at) => {
            let ty = &ir.shared_factories[*at];
            respan(quote!(#rt::resource::shared::<#ty>(#cache, #step).await), ty.span())
        }
    }
}

/// `tokens`, every one of them (in groups too) at `span`: what rustc
/// reports about the expression is then shown at `span` alone.
fn respan(tokens: TokenStream, span: proc_macro2::Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut tree| {
            if let proc_macro2::TokenTree::Group(group) = &tree {
                let mut inner = proc_macro2::Group::new(group.delimiter(), respan(group.stream(), span));
                inner.set_span(span);
                tree = proc_macro2::TokenTree::Group(inner);
            } else {
                tree.set_span(span);
            }
            tree
        })
        .collect()
}

/// The inherent methods that build each `#[resource]` method's resource.
pub fn builders(ir: &Ir) -> TokenStream {
    if ir.factories.is_empty() {
        return TokenStream::new();
    }
    let rt = rt();
    let self_ty = &ir.self_ty;
    let (cache, step) = (quote!(cache), quote!(step));
    let methods = ir.factories.iter().map(|factory| {
        let FactoryIr { ident, name, value, .. } = factory;
        let builder = builder_ident(factory);
        let needs: Vec<syn::Ident> = (0..factory.needs.len()).map(|i| format_ident!("__need_{i}")).collect();
        let gets = factory.needs.iter().map(|need| get(ir, need, &cache, &step));
        let receiver = factory.receiver.then(|| quote!(self,));
        let args =
            needs.iter().zip(&factory.needs).map(|(need, use_)| quote_spanned!(use_.ty.span()=> #need));
        let awaited = factory.is_async.then(|| quote!(.await));
        let made = quote!(<#self_ty>::#ident(#receiver #(#args),*) #awaited);
        let made = if factory.fallible {
            quote!(#made.map_err(|error| #rt::resource::failed(#name, step, error)))
        } else {
            quote!(::core::result::Result::Ok(#made))
        };
        let kept = if factory.cache {
            quote!(cache.own(#name, build).await)
        } else {
            quote!(build.await.map(#rt::Resource::new))
        };
        quote! {
            #[doc(hidden)]
            #[allow(dead_code)]
            async fn #builder(
                &self,
                cache: &#rt::resource::Cache,
                step: &'static str,
            ) -> ::core::result::Result<#rt::Resource<#value>, #rt::resource::ResourceError> {
                let build = async {
                    #(let #needs = #gets?;)*
                    #made
                };
                #kept
            }
        }
    });
    let (impl_generics, where_clause) = workflow_generics(&ir.generics);
    quote! {
        impl #impl_generics #self_ty #where_clause {
            #(#methods)*
        }
    }
}

/// The statements a step's call starts with, binding its resources to
/// `__resource_{i}` (a factory's failure is the step's error), and the
/// arguments that pass them.
pub fn step_resources(
    ir: &Ir,
    resources: &[ResourceUse],
    step_name: &str,
) -> (TokenStream, Vec<TokenStream>) {
    if resources.is_empty() {
        return (TokenStream::new(), Vec::new());
    }
    let rt = rt();
    let (cache, step) = (quote!(&__resources), quote!(#step_name));
    let names: Vec<syn::Ident> = (0..resources.len()).map(|i| format_ident!("__resource_{i}")).collect();
    let gets = resources.iter().map(|r| get(ir, r, &cache, &step));
    let lets = quote! {
        let __resources = #rt::resource::cache_of(&self);
        #(
            let #names = match #gets {
                ::core::result::Result::Ok(resource) => resource,
                ::core::result::Result::Err(error) => return ::core::result::Result::Err(#rt::box_error(error)),
            };
        )*
    };
    // Spanned at the parameter's type: a factory of another type is shown there.
    let args = names.iter().zip(resources).map(|(name, r)| syn::Ident::new(&name.to_string(), r.ty.span()));
    let args = args.map(|name| quote!(#name)).collect();
    (lets, args)
}

/// `Workflow::check_resources`, if factory types are declared elsewhere.
pub fn check(ir: &Ir) -> TokenStream {
    if ir.shared_factories.is_empty() {
        return TokenStream::new();
    }
    let rt = rt();
    let nodes = ir.shared_factories.iter().map(|ty| quote_spanned!(ty.span()=> #rt::resource::node::<#ty>()));
    quote! {
        fn check_resources() -> ::core::result::Result<(), #rt::resource::ResourceError> {
            #rt::resource::acyclic(&[#(#nodes),*])
        }
    }
}
