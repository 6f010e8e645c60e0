//! Reading `#[resource]` methods and the `name: Resource<T>` parameters of
//! steps and factories.

use super::ast::{first_generic, last_segment, Factory, ResourceParam};
use crate::internals::Ctxt;

/// Whether a parameter's type is written `Resource<..>`.
pub fn is_resource(ty: &syn::Type) -> bool {
    last_segment(ty).is_some_and(|s| s.ident == "Resource")
}

/// Reads `name: Resource<T>`, whose name must be a plain identifier: it
/// says which resource (`_name` too, for a resource the body leaves unused).
pub fn resource_param(arg: &syn::PatType, cx: &Ctxt) -> Option<ResourceParam> {
    if last_segment(&arg.ty).and_then(first_generic).is_none() {
        cx.error_spanned_by(&arg.ty, "write the resource's type: `name: Resource<T>`");
        return None;
    }
    match &*arg.pat {
        syn::Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => {
            // `_memory` names `memory`, unused (as rustc reads the underscore).
            let name = syn::ext::IdentExt::unraw(&p.ident).to_string();
            let name = match name.strip_prefix('_') {
                Some(rest) if !rest.is_empty() => rest.to_owned(),
                _ => name,
            };
            Some(ResourceParam { name: syn::Ident::new(&name, p.ident.span()), ty: (*arg.ty).clone() })
        }
        other => {
            cx.error_spanned_by(
                other,
                "a resource parameter is named after its resource: write `memory: Resource<Memory>` for the \
                 resource `memory`",
            );
            None
        }
    }
}

/// `#[resource]` or `#[resource(cache = false)]`: whether it is cached.
pub fn resource_args(attr: &syn::Attribute, cx: &Ctxt) -> bool {
    let mut cache = true;
    if matches!(attr.meta, syn::Meta::Path(_)) {
        return cache;
    }
    let parsed = attr.parse_nested_meta(|meta| {
        if meta.path.is_ident("cache") {
            let value: syn::LitBool = meta.value()?.parse()?;
            cache = value.value;
            Ok(())
        } else {
            Err(meta.error("unknown `#[resource]` argument; expected `cache = false`"))
        }
    });
    if let Err(error) = parsed {
        cx.syn_error(error);
    }
    cache
}

/// Reads a `#[resource]` method. Every problem is recorded; `None` means it
/// cannot take part in the resources' graph.
pub fn parse_factory(method: &syn::ImplItemFn, cache: bool, cx: &Ctxt) -> Option<Factory> {
    let sig = &method.sig;
    let name = &sig.ident;
    let mut ok = true;
    if !sig.generics.params.is_empty() {
        cx.error_spanned_by(
            &sig.generics,
            format!("resource factory `{name}` cannot be generic: its resource has one type"),
        );
        ok = false;
    }
    let mut receiver = false;
    let mut needs = Vec::new();
    for input in &sig.inputs {
        match input {
            syn::FnArg::Receiver(r) if r.reference.is_some() && r.mutability.is_none() => receiver = true,
            syn::FnArg::Receiver(r) => {
                cx.error_spanned_by(
                    r,
                    format!(
                        "resource factory `{name}` takes `&self` (or no receiver): runs share the workflow"
                    ),
                );
                ok = false;
            }
            syn::FnArg::Typed(arg) if is_resource(&arg.ty) => match resource_param(arg, cx) {
                Some(param) => needs.push(param),
                None => ok = false,
            },
            syn::FnArg::Typed(arg) => {
                cx.error_spanned_by(
                    &arg.ty,
                    format!(
                        "resource factory `{name}` takes only `&self` and the resources it is built from, as \
                         `other: Resource<T>`; keep other values in the workflow's fields"
                    ),
                );
                ok = false;
            }
        }
    }
    let (value, fallible) = match &sig.output {
        syn::ReturnType::Type(_, ty) => match last_segment(ty) {
            Some(seg) if seg.ident == "Result" => match first_generic(seg) {
                Some(value) => (value.clone(), true),
                None => ((**ty).clone(), false),
            },
            _ => ((**ty).clone(), false),
        },
        syn::ReturnType::Default => {
            cx.error_spanned_by(
                name,
                format!("resource factory `{name}` must return its resource: `fn {name}(&self) -> T`"),
            );
            return None;
        }
    };
    ok.then(|| Factory {
        ident: name.clone(),
        receiver,
        is_async: sig.asyncness.is_some(),
        needs,
        value,
        fallible,
        cache,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::ToTokens;
    use syn::parse_quote;

    fn parse(method: syn::ImplItemFn, cache: bool) -> (Option<Factory>, Vec<String>) {
        let cx = Ctxt::new();
        let factory = parse_factory(&method, cache, &cx);
        (factory, cx.check().err().unwrap_or_default().iter().map(ToString::to_string).collect())
    }

    #[test]
    fn reads_needs_value_and_fallibility() {
        let (factory, errors) = parse(
            parse_quote!(
                async fn client(&self, memory: Resource<Memory>) -> Result<Client, Error> {
                    todo!()
                }
            ),
            false,
        );
        assert!(errors.is_empty(), "{errors:?}");
        let factory = factory.unwrap();
        assert!(factory.receiver && factory.is_async && factory.fallible && !factory.cache);
        assert_eq!(factory.needs[0].name, "memory");
        assert_eq!(factory.value.to_token_stream().to_string(), "Client");

        let (factory, _) = parse(
            parse_quote!(
                fn settings() -> Settings {
                    todo!()
                }
            ),
            true,
        );
        let factory = factory.unwrap();
        assert!(!factory.receiver && !factory.is_async && !factory.fallible);
    }

    #[test]
    fn reports_every_signature_problem_at_once() {
        let (factory, errors) = parse(
            parse_quote!(
                fn bad<T>(&mut self, n: u32, (a, b): Resource<(u8, u8)>) -> T {
                    todo!()
                }
            ),
            true,
        );
        assert!(factory.is_none());
        assert_eq!(errors.len(), 4, "{errors:?}");
        assert!(errors[0].contains("cannot be generic"));
        assert!(errors[1].contains("takes `&self`"));
        assert!(errors[2].contains("takes only `&self` and the resources"));
        assert!(errors[3].contains("named after its resource"));
        let (_, errors) = parse(
            parse_quote!(
                fn nothing(&self) {}
            ),
            true,
        );
        assert!(errors[0].contains("must return its resource"));
    }
}
