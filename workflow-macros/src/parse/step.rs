//! Reading one `#[step]` method's signature.

use syn::spanned::Spanned;

use super::ast::{
    camel_case, first_generic, last_segment, Arity, EventTy, Input, InputKind, Output, Param, Shape, Step,
};
use super::attr::StepArgs;
use super::resource::{is_resource, resource_param};
use crate::internals::Ctxt;

/// Names that wrap events, so they cannot be events themselves.
const WRAPPERS: [&str; 8] = ["Result", "Option", "Vec", "Emit", "OneOf", "Collected", "Box", "Resource"];

const RETURN_FORMS: &str = "`-> E`, `-> Option<E>`, `-> Vec<E>`, or `Emit<(A, B)>` in place of `E`, \
                            optionally inside `Result<_, Error>`";

/// Reads a step's signature. Every problem is recorded; `None` means the
/// signature is too broken for the step to take part in the graph checks.
pub fn parse_step(method: &syn::ImplItemFn, args: StepArgs, cx: &Ctxt) -> Option<Step> {
    let sig = &method.sig;
    let name = &sig.ident;
    if sig.asyncness.is_none() {
        cx.error_spanned_by(
            sig.fn_token,
            format!("step `{name}` must be an `async fn`: write `async fn {name}`"),
        );
    }
    // A `where` clause alone is fine: it can only bound the workflow's own
    // types (or hold trivial bounds), which the compiler checks.
    if !sig.generics.params.is_empty() {
        cx.error_spanned_by(
            &sig.generics,
            format!("step `{name}` cannot be generic: the graph is built from concrete event types"),
        );
    }
    if let Some(v) = &sig.variadic {
        cx.error_spanned_by(v, "a step cannot be variadic");
    }
    if let Some(unsafety) = &sig.unsafety {
        cx.error_spanned_by(
            unsafety,
            format!("step `{name}` cannot be `unsafe`: the runtime calls it as safe code"),
        );
    }
    if let Some(abi) = &sig.abi {
        cx.error_spanned_by(abi, format!("step `{name}` cannot have an `extern` ABI"));
    }
    check_receiver(sig, cx);

    let mut params = Vec::new();
    let mut resources = Vec::new();
    let mut event: Option<Input> = None;
    let mut rejected_event = false;
    let mut context: Option<syn::Type> = None;
    let mut aliased_context = false;
    // A parameter `&T` where `T` is not written `Context<..>`: an event
    // taken by reference, or (beside an event taken by value) an alias of
    // the context, which the macro cannot see through. Decided below.
    let by_reference: Vec<&syn::Type> = sig
        .inputs
        .iter()
        .filter_map(|input| match input {
            syn::FnArg::Typed(arg) => Some(&*arg.ty),
            syn::FnArg::Receiver(_) => None,
        })
        .filter(|ty| matches!(ungroup(ty), syn::Type::Reference(r) if !is_context_path(&r.elem)))
        .collect();
    let by_value_event = sig.inputs.iter().any(|input| match input {
        syn::FnArg::Typed(arg) => {
            !matches!(ungroup(&arg.ty), syn::Type::Reference(_))
                && !is_context_path(ungroup(&arg.ty))
                && !is_resource(&arg.ty)
        }
        syn::FnArg::Receiver(_) => false,
    });
    for input in sig.inputs.iter().skip(usize::from(has_receiver(sig))) {
        let syn::FnArg::Typed(arg) = input else {
            continue;
        };
        if is_resource(&arg.ty) {
            if let Some(param) = resource_param(arg, cx) {
                params.push(Param::Resource(resources.len()));
                resources.push(param);
            }
            continue;
        }
        if by_value_event && by_reference.contains(&&*arg.ty) {
            let written: String = quote::ToTokens::to_token_stream(&*arg.ty)
                .to_string()
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect();
            cx.error_spanned_by(
                &arg.ty,
                format!(
                    "step `{name}` takes `{written}`, which is not written `&Context<S>`; `#[workflow]` reads \
                     signatures as written, so if it is an alias of the context, write `&Context<S>` here (and \
                     events are passed by value)"
                ),
            );
            aliased_context = true;
            params.push(Param::Context);
            continue;
        }
        match classify(&arg.ty, cx) {
            Classified::Context(state) => {
                if context.is_some() {
                    cx.error_spanned_by(
                        &arg.ty,
                        format!(
                            "step `{name}` takes a second context; a step takes at most one `&Context<S>`"
                        ),
                    );
                    continue;
                }
                context = Some(state);
                params.push(Param::Context);
            }
            Classified::Event(input) => {
                if let Some(first) = &event {
                    cx.error_spanned_by(
                        &arg.ty,
                        format!(
                            "step `{name}` already takes `{}`; a step has one event parameter: to take \
                             either of several types, write `ev: OneOf<(A, B)>`",
                            EventTy::new(first.ty.clone()).key
                        ),
                    );
                    continue;
                }
                event = Some(input);
                params.push(Param::Event);
            }
            Classified::Invalid => rejected_event = true,
        }
    }
    let output = parse_output(sig, cx);
    if context.is_none() && !aliased_context {
        for (key, list) in [("sends", &args.sends), ("streams", &args.streams), ("waits", &args.waits)] {
            if let Some(first) = list.first() {
                cx.error_spanned_by(
                    &first.ty,
                    format!(
                        "step `{name}` declares `{key} = [..]` but takes no context, so it can never {verb}; \
                         add a `ctx: &Context<S>` parameter (`&Context<()>` without state)",
                        verb = match key {
                            "sends" => "send",
                            "streams" => "stream",
                            _ => "wait",
                        }
                    ),
                );
            }
        }
    }
    undeclared_waits(method, &args.waits, cx);
    undeclared_children(method, &args.children, cx);
    let returned: Vec<EventTy> = output.as_ref().map(|o| o.shape.events().to_vec()).unwrap_or_default();
    // The graph would miss the undeclared edges and report their
    // consequences too: the declaration error is the one to show.
    let undeclared = undeclared_sends(method, &returned, &args.sends, &args.streams, cx);
    let Some(event) = event else {
        if rejected_event {
            return None; // the parameter's own error says what is wrong
        }
        cx.error_spanned_by(
            name,
            format!(
                "step `{name}` has no event parameter: add the event that triggers it, as in `ev: MyEvent`"
            ),
        );
        return None;
    };
    let unraw = syn::ext::IdentExt::unraw(name).to_string();
    let variant = match camel_case(&unraw) {
        v if v.is_empty() => quote::format_ident!("Step{}", unraw.len(), span = name.span()),
        v => syn::Ident::new(&v, name.span()),
    };
    Some(Step {
        ident: name.clone(),
        undeclared,
        name: unraw,
        variant,
        num_workers: args.num_workers,
        skip: args.skip,
        sends: args.sends,
        streams: args.streams,
        waits: args.waits,
        retry: args.retry,
        for_steps: args.for_steps,
        max_recoveries: args.max_recoveries,
        children: args.children,
        params,
        resources,
        input: event,
        context,
        output: output?,
    })
}

/// Every `wait_for_event::<T>()` in the step's body whose `T` the step does
/// not list in `waits = [..]`: the macro sees these, so they do not compile
/// (a wait it cannot see is refused by the runtime with `WaitError::Undeclared`).
fn undeclared_waits(method: &syn::ImplItemFn, waits: &[EventTy], cx: &Ctxt) {
    struct Finder<'a> {
        waits: &'a [EventTy],
        step: &'a syn::Ident,
        cx: &'a Ctxt,
    }
    impl<'ast> syn::visit::Visit<'ast> for Finder<'_> {
        fn visit_expr_method_call(&mut self, call: &'ast syn::ExprMethodCall) {
            let waited = call.method == "wait_for_event";
            let turbofish = call.turbofish.as_ref().and_then(|t| t.args.first());
            if let (true, Some(syn::GenericArgument::Type(ty))) = (waited, turbofish) {
                let event = EventTy::new(ty.clone());
                if !self.waits.contains(&event) {
                    let step = self.step;
                    let listed = self.waits.iter().map(|w| w.key.as_str()).chain([event.key.as_str()]);
                    self.cx.error_spanned_by(
                        ty,
                        format!(
                            "step `{step}` waits for `{}` but does not declare it; write \
                             `#[step(waits = [{}])]`, so that the graph checks count the answer",
                            event.key,
                            listed.collect::<Vec<_>>().join(", ")
                        ),
                    );
                }
            }
            syn::visit::visit_expr_method_call(self, call);
        }
    }
    let mut finder = Finder { waits, step: &method.sig.ident, cx };
    syn::visit::Visit::visit_block(&mut finder, &method.block);
}

/// `&Self`, as in `self: &Self`, which is `&self` spelled out.
fn is_ref_self(ty: &syn::Type) -> bool {
    matches!(ty, syn::Type::Reference(r) if r.mutability.is_none()
        && matches!(&*r.elem, syn::Type::Path(p) if p.qself.is_none() && p.path.is_ident("Self")))
}

fn ungroup(ty: &syn::Type) -> &syn::Type {
    match ty {
        syn::Type::Group(group) => ungroup(&group.elem),
        other => other,
    }
}

fn is_context_path(ty: &syn::Type) -> bool {
    last_segment(ty).is_some_and(|s| s.ident == "Context")
}

/// Every `send_event`, `send_event_to` and `write_event_to_stream` in the
/// step's body whose event's type can be read off the call (`Job { .. }`,
/// `Job(..)`, `Job`, `Job::new(..)`) and that the step does not declare:
/// the macro sees these, so they do not compile (the runtime fails the
/// step for the others).
fn undeclared_sends(
    method: &syn::ImplItemFn,
    returned: &[EventTy],
    sends: &[EventTy],
    streams: &[EventTy],
    cx: &Ctxt,
) -> bool {
    struct Finder<'a> {
        sendable: Vec<String>,
        streamable: Vec<String>,
        step: &'a syn::Ident,
        cx: &'a Ctxt,
        found: bool,
    }
    impl<'ast> syn::visit::Visit<'ast> for Finder<'_> {
        fn visit_expr_method_call(&mut self, call: &'ast syn::ExprMethodCall) {
            let method = call.method.to_string();
            let (arg, stream) = match method.as_str() {
                "send_event" => (call.args.first(), false),
                "send_event_to" => (call.args.iter().nth(1), false),
                "write_event_to_stream" => (call.args.first(), true),
                _ => (None, false),
            };
            if let Some(name) = arg.and_then(visible_type) {
                let (declared, key) =
                    if stream { (&self.streamable, "streams") } else { (&self.sendable, "sends") };
                if !declared.contains(&name) {
                    self.found = true;
                    let step = self.step;
                    self.cx.error_spanned_by(
                        arg,
                        format!(
                            "step `{step}` passes `{name}` to `ctx.{method}` but does not declare it; add it to \
                             `#[step({key} = [..])]`"
                        ),
                    );
                }
            }
            syn::visit::visit_expr_method_call(self, call);
        }
    }
    let base = |e: &EventTy| e.last_segment().map(|s| s.ident.to_string());
    let sendable = returned.iter().chain(sends).filter_map(base).collect();
    let streamable = streams.iter().filter_map(base).collect();
    let mut finder = Finder { sendable, streamable, step: &method.sig.ident, cx, found: false };
    syn::visit::Visit::visit_block(&mut finder, &method.block);
    finder.found
}

/// Every `ctx.run_child(..)` in the step's body whose workflow's type can
/// be read off its first argument (`Search::new(..)`, `Search { .. }`,
/// `Search`) and that the step does not list in `children = [..]`. A child
/// the macro cannot see is still checked by rustc: it must be declared by
/// some step of the workflow (`ChildOf`).
fn undeclared_children(method: &syn::ImplItemFn, children: &[syn::Type], cx: &Ctxt) {
    struct Finder<'a> {
        declared: Vec<String>,
        step: &'a syn::Ident,
        cx: &'a Ctxt,
    }
    impl<'ast> syn::visit::Visit<'ast> for Finder<'_> {
        fn visit_expr_method_call(&mut self, call: &'ast syn::ExprMethodCall) {
            if call.method == "run_child" || call.method == "run_child_with" {
                let arg = call.args.first();
                if let Some(name) = arg.and_then(visible_type) {
                    if !self.declared.contains(&name) {
                        let step = self.step;
                        self.cx.error_spanned_by(
                            arg,
                            format!(
                                "step `{step}` runs `{name}` as a child but does not declare it; add it to \
                                 `#[step(children = [..])]`"
                            ),
                        );
                    }
                }
            }
            syn::visit::visit_expr_method_call(self, call);
        }
    }
    let declared = children.iter().filter_map(|ty| last_segment(ty).map(|s| s.ident.to_string())).collect();
    let mut finder = Finder { declared, step: &method.sig.ident, cx };
    syn::visit::Visit::visit_block(&mut finder, &method.block);
}

/// The type an expression builds, when it says so: `Job { .. }`, `Job(..)`,
/// `Job` or `Job::new(..)` (by the type's last path segment).
fn visible_type(expr: &syn::Expr) -> Option<String> {
    let capitalized = |ident: &syn::Ident| ident.to_string().chars().next().is_some_and(char::is_uppercase);
    match expr {
        syn::Expr::Struct(s) => s.path.segments.last().map(|s| s.ident.to_string()),
        syn::Expr::Call(call) => match &*call.func {
            syn::Expr::Path(p) => {
                let segments: Vec<&syn::PathSegment> = p.path.segments.iter().collect();
                match segments.as_slice() {
                    [.., last] if capitalized(&last.ident) => Some(last.ident.to_string()),
                    [.., ty, _] if capitalized(&ty.ident) => Some(ty.ident.to_string()),
                    _ => None,
                }
            }
            _ => None,
        },
        syn::Expr::Path(p) => p.path.get_ident().filter(|i| capitalized(i)).map(ToString::to_string),
        syn::Expr::Paren(p) => visible_type(&p.expr),
        _ => None,
    }
}

fn has_receiver(sig: &syn::Signature) -> bool {
    matches!(sig.inputs.first(), Some(syn::FnArg::Receiver(_)))
}

fn check_receiver(sig: &syn::Signature, cx: &Ctxt) {
    let name = &sig.ident;
    match sig.inputs.first() {
        Some(syn::FnArg::Receiver(r)) if r.colon_token.is_some() && is_ref_self(&r.ty) => {}
        Some(syn::FnArg::Receiver(r)) if r.colon_token.is_some() => cx.error_spanned_by(
            r,
            format!("step `{name}` must take `&self`; the runtime already shares the workflow between runs"),
        ),
        Some(syn::FnArg::Receiver(r)) if r.reference.is_none() => cx.error_spanned_by(
            r,
            format!(
                "step `{name}` takes `self` by value; take `&self`, since the workflow outlives each step"
            ),
        ),
        Some(syn::FnArg::Receiver(r)) if r.mutability.is_some() => cx.error_spanned_by(
            r,
            format!(
                "step `{name}` takes `&mut self`; steps run concurrently, so take `&self` \
                 and keep what changes in the `Context`"
            ),
        ),
        Some(syn::FnArg::Receiver(_)) => {}
        _ => cx.error_spanned_by(
            name,
            format!("step `{name}` needs `&self` as its first parameter: `async fn {name}(&self, ..)`"),
        ),
    }
}

enum Classified {
    /// `&Context<S>`, with `S`.
    Context(syn::Type),
    Event(Input),
    /// Already reported.
    Invalid,
}

fn classify(ty: &syn::Type, cx: &Ctxt) -> Classified {
    if let syn::Type::Group(group) = ty {
        return classify(&group.elem, cx); // a type passed through a `macro_rules!` `$t:ty`
    }
    let is_context = |t: &syn::Type| last_segment(t).is_some_and(|s| s.ident == "Context");
    match ty {
        syn::Type::Reference(r) if is_context(&r.elem) => {
            if r.mutability.is_some() {
                cx.error_spanned_by(
                    ty,
                    "take the context as `&Context<S>`: its edits are atomic through `&`",
                );
            }
            // `&Context` alone is a context without state: `&Context<()>`.
            match last_segment(&r.elem).and_then(first_generic) {
                Some(state) => Classified::Context(state.clone()),
                None => Classified::Context(syn::parse_quote!(())),
            }
        }
        _ if is_context(ty) => {
            cx.error_spanned_by(ty, "take the context by reference: `ctx: &Context<S>`");
            Classified::Invalid
        }
        syn::Type::Reference(r) => {
            cx.error_spanned_by(ty, "events are passed by value: write `ev: Event`, not `ev: &Event`");
            match input(&r.elem) {
                Ok(input) => Classified::Event(input),
                Err(_) => Classified::Invalid,
            }
        }
        _ => match input(ty) {
            Ok(input) => Classified::Event(input),
            Err((span, message)) => {
                cx.error_at(span, message);
                Classified::Invalid
            }
        },
    }
}

/// An event parameter: `E`, `OneOf<(A, B)>` (or `Emit<..>`), or `Collected<E>`.
fn input(ty: &syn::Type) -> Result<Input, ShapeError> {
    let segment = last_segment(ty);
    let (kind, events) = match segment.map(|s| s.ident.to_string()).as_deref() {
        Some("OneOf" | "Emit") => (InputKind::Union, branches(ty)?),
        Some("Collected") => {
            let inner = segment.and_then(first_generic).ok_or_else(|| {
                (ty.span(), "write the collected event type: `ev: Collected<MyEvent>`".to_owned())
            })?;
            (InputKind::Collected, vec![event_type(inner).map_err(|m| (inner.span(), m))?])
        }
        _ => (InputKind::One, vec![event_type(ty).map_err(|m| (ty.span(), m))?]),
    };
    Ok(Input { kind, events, ty: ty.clone() })
}

/// A type that can be an event: a plain path that is not one of the wrappers.
fn event_type(ty: &syn::Type) -> Result<EventTy, String> {
    match last_segment(ty) {
        Some(seg) if WRAPPERS.iter().any(|w| seg.ident == w) => Err(format!(
            "`{}` cannot be an event here; the return forms a step may use are {RETURN_FORMS}",
            seg.ident
        )),
        Some(_) => Ok(EventTy::new(ty.clone())),
        None => Err("an event must be a named type, such as `MyEvent` or `StartEvent<Input>`".to_owned()),
    }
}

pub fn parse_output(sig: &syn::Signature, cx: &Ctxt) -> Option<Output> {
    let name = &sig.ident;
    let syn::ReturnType::Type(_, ty) = &sig.output else {
        cx.error_spanned_by(
            name,
            format!("step `{name}` returns nothing; a step returns the events it emits: {RETURN_FORMS}"),
        );
        return None;
    };
    let (inner, fallible) = match last_segment(ty) {
        Some(seg) if seg.ident == "Result" => match first_generic(seg) {
            Some(inner) => (inner, true),
            None => {
                cx.error_spanned_by(ty, "write the events the step emits inside `Result<_, Error>`");
                return None;
            }
        },
        _ => (&**ty, false),
    };
    match parse_shape(inner) {
        Ok(shape) => Some(Output { fallible, shape }),
        Err((span, message)) => {
            cx.error_at(span, message);
            None
        }
    }
}

type ShapeError = (proc_macro2::Span, String);

fn parse_shape(ty: &syn::Type) -> Result<Shape, ShapeError> {
    if let syn::Type::Tuple(tuple) = ty {
        let message = if tuple.elems.is_empty() {
            format!("a step must emit an event; to emit nothing sometimes, return `Option<E>`. Forms: {RETURN_FORMS}")
        } else {
            "to emit one of several events write `Emit<(A, B)>`; to emit many of one type, `Vec<E>`"
                .to_owned()
        };
        return Err((ty.span(), message));
    }
    let Some(seg) = last_segment(ty) else {
        return Err((ty.span(), format!("unsupported return type; a step returns {RETURN_FORMS}")));
    };
    let inner =
        || first_generic(seg).ok_or_else(|| (ty.span(), format!("`{}` needs a type argument", seg.ident)));
    let (arity, item) = match seg.ident.to_string().as_str() {
        "Option" => (Arity::Optional, inner()?),
        "Vec" => (Arity::Many, inner()?),
        "Result" => {
            return Err((ty.span(), "`Result` goes outermost: `Result<Option<E>, Error>`".to_owned()))
        }
        _ => (Arity::One, ty),
    };
    let events = match last_segment(item) {
        Some(s) if s.ident == "Emit" || s.ident == "OneOf" => branches(item)?,
        _ => vec![event_type(item).map_err(|m| (item.span(), m))?],
    };
    Ok(Shape { arity, events })
}

/// The alternatives of `Emit<(A, B, ..)>`.
fn branches(emit: &syn::Type) -> Result<Vec<EventTy>, ShapeError> {
    let usage = "`Emit`/`OneOf` lists its alternatives as a tuple of 2 to 8 event types: `Emit<(A, B)>`; \
                 for one event type, use the type itself";
    let tuple = match last_segment(emit).and_then(first_generic) {
        Some(syn::Type::Tuple(t)) if (2..=8).contains(&t.elems.len()) => t,
        Some(other) => return Err((other.span(), usage.to_owned())),
        None => return Err((emit.span(), usage.to_owned())),
    };
    let mut events: Vec<EventTy> = Vec::new();
    for ty in &tuple.elems {
        let ev = event_type(ty).map_err(|m| (ty.span(), m))?;
        if events.contains(&ev) {
            let wrapper = last_segment(emit).map_or_else(|| "Emit".to_owned(), |s| s.ident.to_string());
            let message = format!("`{}` is listed twice in `{wrapper}`; list each event type once", ev.key);
            return Err((ty.span(), message));
        }
        events.push(ev);
    }
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    fn parse(method: syn::ImplItemFn) -> (Option<Step>, Vec<String>) {
        let cx = Ctxt::new();
        let args = StepArgs::default();
        let step = parse_step(&method, args, &cx);
        let errors = cx.check().err().unwrap_or_default().iter().map(ToString::to_string).collect();
        (step, errors)
    }

    fn keys(shape: &Shape) -> Vec<&str> {
        shape.events().iter().map(|e| e.key.as_str()).collect()
    }

    #[test]
    fn reads_context_event_and_fallible_branch() {
        let (step, errors) = parse(parse_quote! {
            async fn check(&self, ctx: &Context<State>, ev: Retrieved) -> Result<Emit<(Retrieved, StopEvent<String>)>, Error> { todo!() }
        });
        assert!(errors.is_empty(), "{errors:?}");
        let step = step.unwrap();
        assert_eq!(step.params, [Param::Context, Param::Event]);
        assert_eq!(step.consumes()[0].key, "Retrieved");
        assert!(step.context.is_some());
        assert!(step.output.fallible);
        assert_eq!(step.output.shape.arity, Arity::One);
        assert_eq!(step.output.shape.events().len(), 2);
        assert_eq!(keys(&step.output.shape), ["Retrieved", "StopEvent<String>"]);
    }

    #[test]
    fn reads_every_return_form() {
        let cases: [(syn::ImplItemFn, Arity, &[&str]); 6] = [
            (
                parse_quote!(
                    async fn s(&self, ev: A) -> B {}
                ),
                Arity::One,
                &["B"],
            ),
            (
                parse_quote!(
                    async fn s(&self, ev: A) -> Option<B> {}
                ),
                Arity::Optional,
                &["B"],
            ),
            (
                parse_quote!(
                    async fn s(&self, ev: A) -> Vec<B> {}
                ),
                Arity::Many,
                &["B"],
            ),
            (
                parse_quote!(
                    async fn s(&self, ev: A) -> Emit<(B, C)> {}
                ),
                Arity::One,
                &["B", "C"],
            ),
            (
                parse_quote!(
                    async fn s(&self, ev: A) -> anyhow::Result<Option<Emit<(B, C)>>> {}
                ),
                Arity::Optional,
                &["B", "C"],
            ),
            (
                parse_quote!(
                    async fn s(&self, ev: A) -> Vec<Emit<(B, C, D)>> {}
                ),
                Arity::Many,
                &["B", "C", "D"],
            ),
        ];
        for (method, arity, events) in cases {
            let (step, errors) = parse(method);
            assert!(errors.is_empty(), "{errors:?}");
            let shape = step.unwrap().output.shape;
            assert_eq!(shape.arity, arity);
            assert_eq!(keys(&shape), events);
        }
    }

    #[test]
    fn reports_every_signature_problem_at_once() {
        let (step, errors) = parse(parse_quote! {
            fn bad<T>(self, a: &Context<S>, b: &Context<S>, x: A, y: B) -> () {}
        });
        assert!(step.is_none());
        assert_eq!(errors.len(), 6, "{errors:?}");
        assert!(errors[0].contains("must be an `async fn`"));
        assert!(errors[1].contains("cannot be generic"));
        assert!(errors[2].contains("takes `self` by value"));
        assert!(errors[3].contains("second context"));
        assert!(errors[4].contains("already takes `A`"));
        assert!(errors[5].contains("must emit an event"));
    }

    #[test]
    fn reads_union_and_collected_inputs() {
        let (step, errors) = parse(parse_quote!(
            async fn s(&self, ev: OneOf<(A, B)>) -> C {}
        ));
        assert!(errors.is_empty(), "{errors:?}");
        let input = step.unwrap().input;
        assert_eq!(input.kind, InputKind::Union);
        assert_eq!(input.events.iter().map(|e| e.key.as_str()).collect::<Vec<_>>(), ["A", "B"]);

        let (step, errors) = parse(parse_quote!(
            async fn s(&self, ev: Collected<A>) -> C {}
        ));
        assert!(errors.is_empty(), "{errors:?}");
        let input = step.unwrap().input;
        assert_eq!(input.kind, InputKind::Collected);
        assert_eq!(input.events[0].key, "A");
    }

    #[test]
    fn rejects_missing_event_and_missing_return() {
        let (step, errors) = parse(parse_quote!(
            async fn s(&self) {}
        ));
        assert!(step.is_none());
        assert!(errors[0].contains("returns nothing"), "{errors:?}");
        assert!(errors[1].contains("no event parameter"), "{errors:?}");
    }

    #[test]
    fn a_child_run_in_the_body_must_be_declared_when_its_type_shows() {
        let cx = Ctxt::new();
        let method: syn::ImplItemFn = syn::parse_quote! {
            async fn s(&self, ctx: &Context<()>, ev: A) -> Result<B, E> {
                let a = ctx.run_child(Search::new(1), ev.q).await?;
                let b = ctx.run_child_with(Translate { x: 1 }, a, ChildOptions::new()).await?;
                let c = ctx.run_child(flow, b).await?;
                Ok(B(c))
            }
        };
        let args =
            StepArgs { children: vec![syn::parse_quote!(crate::search::Search)], ..StepArgs::default() };
        let step = parse_step(&method, args, &cx).unwrap();
        assert_eq!(step.children.len(), 1);
        let errors: Vec<String> =
            cx.check().err().unwrap_or_default().iter().map(ToString::to_string).collect();
        assert_eq!(errors.len(), 1, "Search is declared, `flow` shows no type: {errors:?}");
        assert!(errors[0].contains("step `s` runs `Translate` as a child but does not declare it"));
    }

    #[test]
    fn rejects_bad_emit_lists() {
        for (method, needle) in [
            (
                parse_quote!(
                    async fn s(&self, ev: A) -> Emit<(B,)> {}
                ),
                "tuple of 2 to 8",
            ),
            (
                parse_quote!(
                    async fn s(&self, ev: A) -> Emit<(B, B)> {}
                ),
                "listed twice",
            ),
            (
                parse_quote!(
                    async fn s(&self, ev: A) -> (B, C) {}
                ),
                "write `Emit<(A, B)>`",
            ),
            (
                parse_quote!(
                    async fn s(&self, ev: A) -> Option<Vec<B>> {}
                ),
                "`Vec` cannot be an event",
            ),
        ] {
            let (_, errors) = parse(method);
            assert!(errors.iter().any(|e| e.contains(needle)), "{needle}: {errors:?}");
        }
    }
}
