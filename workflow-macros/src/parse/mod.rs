//! Stage 1: syn's tree of the impl block → [`WorkflowDef`], keeping spans.

pub mod ast;
pub mod attr;
pub mod resource;
pub mod step;

use proc_macro2::TokenStream;

use self::ast::{last_segment, Step, WorkflowArgs, WorkflowDef};
use crate::internals::Ctxt;

/// Reads the workflow's arguments and its `#[step]` methods, and removes the
/// `#[step]` attributes from `item` so that it can be emitted as it stands.
pub fn parse(args: TokenStream, mut item: syn::ItemImpl, cx: &Ctxt) -> WorkflowDef {
    if let Some((_, path, _)) = &item.trait_ {
        cx.error_spanned_by(
            path,
            "`#[workflow]` goes on an inherent impl, `impl MyFlow { .. }`, not on a trait impl",
        );
    }
    check_generics(&item.generics, cx);
    let generic = item.generics.type_params().next().is_some();
    let name = match last_segment(&item.self_ty) {
        Some(seg) => seg.ident.clone(),
        None => {
            cx.error_spanned_by(&item.self_ty, "`#[workflow]` needs a named type: `impl MyFlow { .. }`");
            syn::Ident::new("Workflow", proc_macro2::Span::call_site())
        }
    };
    let args = attr::workflow_args(args, cx);
    if let (false, Some(first)) = (generic, args.register.first()) {
        cx.error_spanned_by(
            first,
            "`register = [..]` names the instantiations of a generic workflow to register; this workflow \
             has no type parameters and is registered as it is: remove `register`",
        );
    }

    let mut steps = Vec::new();
    let mut step_methods = Vec::new();
    let mut incomplete = false;
    let mut unreadable_returns = Vec::new();
    let mut found_step = false;
    let mut factories = Vec::new();
    let mut unreadable_factories = Vec::new();
    for impl_item in &mut item.items {
        let syn::ImplItem::Fn(method) = impl_item else {
            continue;
        };
        let resource_attr = take_attr(method, "resource", cx);
        let step_attr = take_attr(method, "step", cx);
        if let Some(attr) = resource_attr {
            let cache = resource::resource_args(&attr, cx);
            if step_attr.is_some() {
                cx.error_spanned_by(
                    &attr,
                    format!(
                        "`{}` is marked both `#[step]` and `#[resource]`; a method is one or the other",
                        method.sig.ident
                    ),
                );
            } else {
                reject_cfg(method, "resource factory", cx);
                match resource::parse_factory(method, cache, cx) {
                    Some(factory) => factories.push(factory),
                    None => unreadable_factories.push(method.sig.ident.clone()),
                }
                continue;
            }
        }
        let Some(step_attr) = step_attr else {
            continue;
        };
        found_step = true;
        step_methods.push(method.sig.ident.clone());
        reject_cfg(method, "step", cx);
        match step::parse_step(method, attr::step_args(&step_attr, cx), cx) {
            Some(step) => {
                incomplete |= step.undeclared;
                steps.push(step);
            }
            None => {
                incomplete = true;
                let quiet = Ctxt::new();
                let output = step::parse_output(&method.sig, &quiet);
                let _ = quiet.check();
                if output.is_none() && matches!(method.sig.output, syn::ReturnType::Type(..)) {
                    unreadable_returns.push(method.sig.ident.clone());
                }
            }
        }
    }
    drop_duplicate_steps(&mut item, &mut steps, cx, &mut incomplete);
    generated_fn_clash(&item, &args, cx);
    if !found_step && item.trait_.is_none() {
        cx.error_spanned_by(
            &item.self_ty,
            format!("workflow `{name}` has no steps: mark its async methods with `#[step]`"),
        );
    }
    let def = WorkflowDef {
        item,
        name,
        args,
        steps,
        step_methods,
        factories,
        unreadable_factories,
        incomplete,
        unreadable_returns,
        same_types: Vec::new(),
    };
    events_mentioning_parameters(&def, cx);
    def
}

/// Type parameters are fine (they are how a workflow is handed its LLM
/// client or retriever); lifetimes and const parameters are not.
fn check_generics(generics: &syn::Generics, cx: &Ctxt) {
    for param in &generics.params {
        match param {
            syn::GenericParam::Type(_) => {}
            syn::GenericParam::Lifetime(l) => cx.error_spanned_by(
                l,
                format!(
                    "a workflow cannot borrow (`{}`): its runs outlive the call that starts them and run on \
                     other tasks, so it must be `'static`; own what it holds, or share it with `Arc`",
                    l.lifetime
                ),
            ),
            syn::GenericParam::Const(c) => cx.error_spanned_by(
                c,
                format!(
                    "const parameters on a workflow (`{}`) are not supported; keep the value in a field of \
                     the workflow, or make it a type parameter",
                    c.ident
                ),
            ),
        }
    }
}

/// Events are shared by every instantiation of a generic workflow (one
/// event enum): an event type that names a type parameter is an error.
fn events_mentioning_parameters(def: &WorkflowDef, cx: &Ctxt) {
    let mut reported: Vec<&str> = Vec::new();
    for event in def.events() {
        let Some(param) = def.type_parameter_in(&event.ty) else { continue };
        if reported.contains(&event.key.as_str()) {
            continue;
        }
        reported.push(&event.key);
        cx.error_spanned_by(
            &event.ty,
            format!(
                "event type `{}` names the workflow's type parameter `{param}`, but events are the same for \
                 every instantiation (one generated event enum); use a concrete type here (say \
                 `String`), and convert to or from `{param}`'s types inside the step",
                event.key
            ),
        );
    }
}

/// The impl must not define what the macro adds to it: `mermaid()`, unless
/// `#[workflow(mermaid = other_name)]` names the generated one otherwise.
fn generated_fn_clash(item: &syn::ItemImpl, args: &WorkflowArgs, cx: &Ctxt) {
    let generated = args.mermaid.as_ref().map_or_else(|| "mermaid".to_owned(), ToString::to_string);
    for impl_item in &item.items {
        let ident = match impl_item {
            syn::ImplItem::Fn(f) => &f.sig.ident,
            syn::ImplItem::Const(c) => &c.ident,
            _ => continue,
        };
        if *ident == generated {
            cx.error_spanned_by(
                ident,
                format!(
                    "`#[workflow]` adds `{generated}()` to this impl (the graph as mermaid text); rename this \
                     item, or give the generated function another name with \
                     `#[workflow(mermaid = graph_mermaid)]`"
                ),
            );
        }
    }
}

/// Two steps with one name are one error (and the second is dropped from the
/// impl, so that rustc does not report it again); two names that make one
/// step-enum variant (`stage_2`, `stage2`) are one error at the second.
fn drop_duplicate_steps(item: &mut syn::ItemImpl, steps: &mut Vec<Step>, cx: &Ctxt, incomplete: &mut bool) {
    let mut seen: Vec<(String, String)> = Vec::new();
    let mut duplicates = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        let variant = step.variant.to_string();
        if let Some((first, _)) = seen.iter().find(|(name, _)| *name == step.name) {
            cx.error_spanned_by(
                &step.ident,
                format!(
                    "a step named `{first}` is already defined in this workflow; rename or remove this one"
                ),
            );
            duplicates.push(i);
        } else if let Some((first, _)) = seen.iter().find(|(_, v)| *v == variant) {
            cx.error_spanned_by(
                &step.ident,
                format!(
                    "steps `{first}` and `{}` would both be `{variant}` in the generated step enum; rename one \
                     of them",
                    step.name
                ),
            );
        }
        seen.push((step.name.clone(), variant));
    }
    for &i in duplicates.iter().rev() {
        let ident = steps.remove(i).ident;
        let mut at = 0;
        item.items.retain(|it| match it {
            syn::ImplItem::Fn(f) if f.sig.ident == ident => {
                at += 1;
                at == 1 // keep the first
            }
            _ => true,
        });
        *incomplete = true;
    }
}

/// Removes the `#[step]` (or `#[resource]`) attribute of a method and
/// returns it.
fn take_attr(method: &mut syn::ImplItemFn, name: &str, cx: &Ctxt) -> Option<syn::Attribute> {
    let is_it = |a: &syn::Attribute| a.path().segments.last().is_some_and(|s| s.ident == name);
    let mut found: Option<syn::Attribute> = None;
    for attr in method.attrs.iter().filter(|a| is_it(a)) {
        if found.is_some() {
            cx.error_spanned_by(
                attr,
                format!("`{}` has two `#[{name}]` attributes; keep one", method.sig.ident),
            );
        } else {
            found = Some(attr.clone());
        }
    }
    method.attrs.retain(|a| !is_it(a));
    found
}

fn reject_cfg(method: &syn::ImplItemFn, what: &str, cx: &Ctxt) {
    let mentions_cfg = |attr: &syn::Attribute| {
        quote::ToTokens::to_token_stream(&attr.meta)
            .to_string()
            .split(|c: char| !c.is_alphanumeric() && c != '_')
            .any(|w| w == "cfg")
    };
    for attr in &method.attrs {
        // `cfg_attr` is fine unless it could add a `cfg`.
        if attr.path().is_ident("cfg") || (attr.path().is_ident("cfg_attr") && mentions_cfg(attr)) {
            cx.error_spanned_by(
                attr,
                format!(
                    "`#[cfg]` on {what} `{}` is not supported: the graph must be the same in every build; \
                     put the `#[cfg]` on the whole `#[workflow]` impl, or branch inside the {what}",
                    method.sig.ident
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;
    use syn::parse_quote;

    fn run(item: syn::ItemImpl) -> (WorkflowDef, Vec<String>) {
        let cx = Ctxt::new();
        let def = parse(quote!(), item, &cx);
        (def, cx.check().err().unwrap_or_default().iter().map(ToString::to_string).collect())
    }

    #[test]
    fn reads_steps_and_strips_their_attributes() {
        let (def, errors) = run(parse_quote! {
            impl Flow {
                #[step(num_workers = 2)]
                async fn a(&self, ev: StartEvent<u8>) -> StopEvent<u8> { todo!() }
                fn helper(&self) {}
            }
        });
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(def.name, "Flow");
        assert_eq!(def.steps.len(), 1);
        assert_eq!(def.steps[0].num_workers, 2);
        let syn::ImplItem::Fn(method) = &def.item.items[0] else { panic!() };
        assert!(method.attrs.is_empty());
    }

    #[test]
    fn rejects_trait_impls_lifetimes_const_generics_cfg_and_no_steps() {
        let (_, errors) = run(parse_quote!(
            impl<'a, T, const N: usize> Tr for Flow<'a, T, N> {
                fn f() {}
            }
        ));
        assert!(errors[0].contains("inherent impl"), "{errors:?}");
        assert!(errors[1].contains("a workflow cannot borrow (`'a`)"), "{errors:?}");
        assert!(errors[2].contains("const parameters on a workflow (`N`)"), "{errors:?}");
        assert_eq!(errors.len(), 3, "no cascade after a trait impl: {errors:?}");
        let (_, errors) = run(parse_quote!(impl Flow { fn f() {} }));
        assert!(errors[0].contains("has no steps"), "{errors:?}");

        let (_, errors) = run(parse_quote! {
            impl Flow { #[step] #[cfg(test)] async fn a(&self, ev: A) -> B { todo!() } }
        });
        assert!(errors[0].contains("`#[cfg]` on step `a`"), "{errors:?}");
    }

    #[test]
    fn an_event_naming_a_type_parameter_is_one_error() {
        let (_, errors) = run(parse_quote! {
            impl<R: Retriever> Rag<R> {
                #[step] async fn a(&self, ev: StartEvent<String>) -> StopEvent<R::Answer> { todo!() }
                #[step] async fn b(&self, ev: Other<R>) -> StopEvent<R::Answer> { todo!() }
            }
        });
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].contains("`StopEvent<R::Answer>` names the workflow's type parameter `R`"));
        assert!(errors[1].contains("`Other<R>`"));
    }

    #[test]
    fn a_broken_signature_marks_the_graph_incomplete() {
        let (def, _) = run(parse_quote!(impl Flow { #[step] async fn a(&self) -> B { todo!() } }));
        assert!(def.incomplete);
        assert!(def.steps.is_empty());
    }
}
