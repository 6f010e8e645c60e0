//! The resources' wiring: every `name: Resource<T>` parameter names a
//! declared resource, each name is declared once, and the `#[resource]`
//! methods do not need each other in a cycle.

use crate::internals::suggest::did_you_mean;
use crate::internals::Ctxt;
use crate::parse::ast::{ResourceParam, WorkflowDef};

pub(super) fn resources(def: &WorkflowDef, cx: &Ctxt) {
    let own: Vec<String> = def.factories.iter().map(|f| unraw(&f.ident)).collect();
    let unreadable: Vec<String> = def.unreadable_factories.iter().map(unraw).collect();
    let mut shared: Vec<String> = Vec::new();
    for (name, _) in &def.args.resources {
        let key = unraw(name);
        if own.contains(&key) || unreadable.contains(&key) {
            cx.error_spanned_by(
                name,
                format!(
                    "resource `{key}` is declared twice, by `#[resource] fn {key}` and in `resources = [..]`; \
                     keep one"
                ),
            );
        } else if shared.contains(&key) {
            cx.error_spanned_by(
                name,
                format!("resource `{key}` is named twice in `resources = [..]`; keep one"),
            );
        }
        shared.push(key);
    }
    let known: Vec<&str> = own.iter().chain(&shared).chain(&unreadable).map(String::as_str).collect();
    let unknown = |param: &ResourceParam, user: &str| {
        let name = param.name.to_string();
        if known.contains(&name.as_str()) {
            return;
        }
        cx.error_spanned_by(
            &param.name,
            format!(
                "{user} takes resource `{name}`, which the workflow does not declare{}; add a \
                 `#[resource] fn {name}(&self) -> T` to this impl, or name a factory type in \
                 `#[workflow(resources = [{name} = MyFactory])]`",
                did_you_mean(&name, known.iter().copied())
            ),
        );
    };
    for step in &def.steps {
        for param in &step.resources {
            unknown(param, &format!("step `{}`", step.name));
        }
    }
    for factory in &def.factories {
        for param in &factory.needs {
            unknown(param, &format!("resource factory `{}`", unraw(&factory.ident)));
        }
    }
    cycles(def, &own, cx);
}

/// A cycle between `#[resource]` methods, reported once, at the parameter
/// that closes it (`a -> b -> a` at `b`'s parameter `a`).
fn cycles(def: &WorkflowDef, own: &[String], cx: &Ctxt) {
    // The own factories each one needs, by index.
    let edges: Vec<Vec<(usize, &ResourceParam)>> = def
        .factories
        .iter()
        .map(|f| {
            f.needs.iter().filter_map(|p| own.iter().position(|o| p.name == o).map(|at| (at, p))).collect()
        })
        .collect();
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        OnPath,
        Done,
    }
    fn visit(
        at: usize,
        edges: &[Vec<(usize, &ResourceParam)>],
        own: &[String],
        marks: &mut [Mark],
        path: &mut Vec<usize>,
        cx: &Ctxt,
    ) {
        marks[at] = Mark::OnPath;
        path.push(at);
        for &(next, param) in &edges[at] {
            match marks[next] {
                Mark::Done => {}
                Mark::OnPath => {
                    let from = path.iter().position(|&p| p == next).unwrap_or(0);
                    let names: Vec<&str> =
                        path[from..].iter().chain([&next]).map(|&i| own[i].as_str()).collect();
                    cx.error_spanned_by(
                        &param.name,
                        format!(
                            "resources need each other in a cycle, `{}`, so none of them can be built; remove \
                             one of these parameters",
                            names.join(" -> ")
                        ),
                    );
                }
                Mark::New => visit(next, edges, own, marks, path, cx),
            }
        }
        path.pop();
        marks[at] = Mark::Done;
    }
    let mut marks = vec![Mark::New; own.len()];
    for start in 0..own.len() {
        if marks[start] == Mark::New {
            visit(start, &edges, own, &mut marks, &mut Vec::new(), cx);
        }
    }
}

fn unraw(ident: &syn::Ident) -> String {
    syn::ext::IdentExt::unraw(ident).to_string()
}

#[cfg(test)]
mod tests {
    use quote::quote;
    use syn::parse_quote;

    use crate::internals::Ctxt;
    use crate::parse::parse;

    fn errors(item: syn::ItemImpl, args: proc_macro2::TokenStream) -> Vec<String> {
        let cx = Ctxt::new();
        let def = parse(args, item, &cx);
        assert!(cx.check().is_ok(), "the definition parses");
        let cx = Ctxt::new();
        super::resources(&def, &cx);
        cx.check().err().unwrap_or_default().iter().map(ToString::to_string).collect()
    }

    #[test]
    fn unknown_twice_declared_and_cyclic_resources() {
        let errors = errors(
            parse_quote! {
                impl Flow {
                    #[resource] fn a(&self, b: Resource<B>) -> A { todo!() }
                    #[resource] fn b(&self, c: Resource<C>) -> B { todo!() }
                    #[resource] fn c(&self, a: Resource<A>, d: Resource<D>) -> C { todo!() }
                    #[resource] fn d(&self, d: Resource<D>) -> D { todo!() }
                    #[resource] fn memory(&self) -> Memory { todo!() }
                    #[step] async fn s(&self, ev: StartEvent<u8>, memry: Resource<Memory>) -> StopEvent<u8> { todo!() }
                }
            },
            quote!(resources = [pool = Pool, pool = Pool, memory = Memory]),
        );
        assert_eq!(errors.len(), 5, "{errors:?}");
        assert!(errors[0].contains("resource `pool` is named twice"), "{errors:?}");
        assert!(errors[1].contains("resource `memory` is declared twice"), "{errors:?}");
        assert!(errors[2].contains("step `s` takes resource `memry`") && errors[2].contains("`memory`?"));
        assert!(errors[3].contains("`a -> b -> c -> a`"), "{errors:?}");
        assert!(errors[4].contains("`d -> d`"), "{errors:?}");
    }
}
