//! Between parsing and the graph checks: which spellings name one event.
//!
//! The macro sees tokens, not types, so `Found`, `events::Found` and
//! `crate::events::Found` are three spellings. Two spellings are taken as
//! one event when their paths agree on their last segments, recursively
//! through generic arguments (`StopEvent<crate::Out>` and `StopEvent<Out>`),
//! and nothing else in the workflow could be meant: `a::Found` and
//! `b::Found` stay two events, and a bare `Found` beside both is an error.
//! The generated code then has rustc confirm that merged spellings are the
//! same type, so a wrong guess is a type error spanned at both.

use quote::ToTokens;

use crate::internals::Ctxt;
use crate::parse::ast::WorkflowDef;

/// A type's path structure, as far as identity needs it.
#[derive(Debug, PartialEq)]
enum Shape {
    /// A path, its leading `crate`/`self` dropped.
    Path(Vec<Segment>),
    /// Anything else, by its tokens.
    Other(String),
}

#[derive(Debug, PartialEq)]
struct Segment {
    ident: String,
    /// The type arguments; other arguments as `Shape::Other`.
    args: Vec<Shape>,
}

impl Shape {
    fn of(ty: &syn::Type) -> Self {
        match ty {
            syn::Type::Group(g) => Shape::of(&g.elem),
            syn::Type::Paren(p) => Shape::of(&p.elem),
            syn::Type::Path(p) if p.qself.is_none() => {
                let mut segments: Vec<Segment> = p.path.segments.iter().map(Segment::of).collect();
                while segments.len() > 1 && (segments[0].ident == "crate" || segments[0].ident == "self") {
                    segments.remove(0);
                }
                Shape::Path(segments)
            }
            other => Shape::Other(tokens(other)),
        }
    }

    /// Whether the two can name one type: equal where both are written,
    /// one path possibly qualified further than the other.
    fn compatible(&self, other: &Shape) -> bool {
        match (self, other) {
            (Shape::Path(a), Shape::Path(b)) => {
                let n = a.len().min(b.len());
                a[a.len() - n..].iter().zip(&b[b.len() - n..]).all(|(x, y)| {
                    x.ident == y.ident
                        && x.args.len() == y.args.len()
                        && x.args.iter().zip(&y.args).all(|(p, q)| p.compatible(q))
                })
            }
            (Shape::Other(a), Shape::Other(b)) => a == b,
            _ => false,
        }
    }
}

impl Segment {
    fn of(segment: &syn::PathSegment) -> Self {
        let args = match &segment.arguments {
            syn::PathArguments::AngleBracketed(args) => args
                .args
                .iter()
                .map(|arg| match arg {
                    syn::GenericArgument::Type(ty) => Shape::of(ty),
                    other => Shape::Other(tokens(other)),
                })
                .collect(),
            syn::PathArguments::Parenthesized(args) => vec![Shape::Other(tokens(args))],
            syn::PathArguments::None => Vec::new(),
        };
        Segment { ident: segment.ident.to_string(), args }
    }
}

fn tokens(t: &impl ToTokens) -> String {
    t.to_token_stream().to_string().chars().filter(|c| !c.is_whitespace()).collect()
}

/// One spelling and where it first appears.
struct Spelling {
    key: String,
    ty: syn::Type,
    shape: Shape,
}

/// Gives every spelling of one event the same key (the shortest spelling),
/// reports spellings that could mean two events, and returns the pairs of
/// spellings rustc must confirm are one type: (the kept one, another).
pub fn resolve(def: &mut WorkflowDef, cx: &Ctxt) -> Vec<(syn::Type, syn::Type)> {
    let mut spellings: Vec<Spelling> = Vec::new();
    for event in def.events_mut() {
        if !spellings.iter().any(|s| s.key == event.key) {
            let shape = Shape::of(&event.ty);
            spellings.push(Spelling { key: event.key.clone(), ty: event.ty.clone(), shape });
        }
    }
    let n = spellings.len();
    let compatible = |i: usize, j: usize| spellings[i].shape.compatible(&spellings[j].shape);
    // Groups of spellings linked by compatibility.
    let mut group: Vec<usize> = (0..n).collect();
    for i in 0..n {
        for j in 0..i {
            if compatible(i, j) {
                let (gi, gj) = (group[i], group[j]);
                group.iter_mut().filter(|g| **g == gi).for_each(|g| *g = gj);
            }
        }
    }
    let mut renamed: Vec<(String, String)> = Vec::new();
    let mut confirm = Vec::new();
    for g in 0..n {
        let members: Vec<usize> = (0..n).filter(|&i| group[i] == g).collect();
        if members.len() < 2 {
            continue;
        }
        let consistent = members.iter().all(|&i| members.iter().all(|&j| compatible(i, j)));
        if !consistent {
            for &i in &members {
                let meant: Vec<&str> = members
                    .iter()
                    .filter(|&&j| j != i && compatible(i, j))
                    .map(|&j| spellings[j].key.as_str())
                    .collect();
                let distinct = meant.iter().enumerate().any(|(a, &x)| {
                    meant[a + 1..].iter().any(|&y| {
                        let find = |k: &str| members.iter().find(|&&m| spellings[m].key == k).copied();
                        matches!((find(x), find(y)), (Some(p), Some(q)) if !compatible(p, q))
                    })
                });
                if distinct {
                    cx.error_spanned_by(
                        &spellings[i].ty,
                        format!(
                            "`{}` could be any of {}, which are different types as written; write the path \
                             of the one you mean",
                            spellings[i].key,
                            meant.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
                        ),
                    );
                    def.incomplete = true;
                }
            }
            continue;
        }
        let kept = *members.iter().min_by_key(|&&i| (spellings[i].key.len(), i)).expect("two members");
        for &i in members.iter().filter(|&&i| i != kept) {
            renamed.push((spellings[i].key.clone(), spellings[kept].key.clone()));
            confirm.push((spellings[kept].ty.clone(), spellings[i].ty.clone()));
        }
    }
    for event in def.events_mut() {
        if let Some((_, kept)) = renamed.iter().find(|(from, _)| *from == event.key) {
            event.key = kept.clone();
        }
    }
    confirm
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse;
    use quote::quote;
    use syn::parse_quote;

    fn resolved(item: syn::ItemImpl) -> (WorkflowDef, Vec<String>, Vec<String>) {
        let cx = Ctxt::new();
        let mut def = parse(quote!(), item, &cx);
        let confirm = resolve(&mut def, &cx);
        let errors = cx.check().err().unwrap_or_default().iter().map(ToString::to_string).collect();
        let pairs = confirm.iter().map(|(a, b)| format!("{} = {}", tokens(a), tokens(b))).collect();
        (def, errors, pairs)
    }

    #[test]
    fn spellings_that_agree_on_their_last_segments_are_one_event() {
        let (def, errors, pairs) = resolved(parse_quote! {
            impl F {
                #[step] async fn a(&self, ev: StartEvent<api::Query>) -> crate::events::Found { todo!() }
                #[step] async fn b(&self, ev: Found) -> workflow_core::StopEvent<crate::Out> { todo!() }
                #[step] async fn c(&self, ev: StartEvent<Query>) -> StopEvent<Out> { todo!() }
            }
        });
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(def.steps[0].output.shape.events[0].key, "Found");
        assert_eq!(def.steps[0].input.events[0].key, "StartEvent<Query>");
        assert_eq!(def.steps[1].output.shape.events[0].key, "StopEvent<Out>");
        assert_eq!(
            pairs,
            [
                "StartEvent<Query> = StartEvent<api::Query>",
                "Found = crate::events::Found",
                "StopEvent<Out> = workflow_core::StopEvent<crate::Out>",
            ]
        );
    }

    #[test]
    fn two_paths_stay_two_events_and_a_bare_name_beside_them_is_an_error() {
        let (def, errors, pairs) = resolved(parse_quote! {
            impl F {
                #[step] async fn a(&self, ev: StartEvent<u8>) -> v1::Found { todo!() }
                #[step] async fn b(&self, ev: v1::Found) -> v2::Found { todo!() }
                #[step] async fn c(&self, ev: v2::Found) -> StopEvent<u8> { todo!() }
            }
        });
        assert!(errors.is_empty() && pairs.is_empty(), "{errors:?} {pairs:?}");
        assert_ne!(def.steps[0].output.shape.events[0], def.steps[1].output.shape.events[0]);

        let (_, errors, _) = resolved(parse_quote! {
            impl F {
                #[step] async fn a(&self, ev: StartEvent<u8>) -> v1::Found { todo!() }
                #[step] async fn b(&self, ev: Found) -> v2::Found { todo!() }
                #[step] async fn c(&self, ev: v2::Found) -> StopEvent<u8> { todo!() }
            }
        });
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].contains("`Found` could be any of `v1::Found`, `v2::Found`"), "{errors:?}");
    }

    #[test]
    fn generic_arguments_must_agree_too() {
        let (_, errors, pairs) = resolved(parse_quote! {
            impl F {
                #[step] async fn a(&self, ev: StartEvent<u8>) -> Wrapped<u8> { todo!() }
                #[step] async fn b(&self, ev: Wrapped<u16>) -> StopEvent<u8> { todo!() }
            }
        });
        assert!(errors.is_empty() && pairs.is_empty(), "{errors:?} {pairs:?}");
    }
}
