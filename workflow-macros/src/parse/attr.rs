//! The arguments of `#[workflow(..)]` and `#[step(..)]`.
//!
//! Each bad argument is recorded and parsing goes on with the next one, so
//! that one pass reports every mistake.

use proc_macro2::TokenStream;
use syn::meta::ParseNestedMeta;
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::{Ident, Token};

use super::ast::{Check, EventTy, WorkflowArgs};
use crate::internals::suggest::did_you_mean;
use crate::internals::Ctxt;

const WORKFLOW_ARGS: [&str; 12] = [
    "start",
    "stop",
    "skip",
    "external",
    "requests",
    "event_enum",
    "step_enum",
    "mermaid",
    "new",
    "register",
    "num_concurrent_runs",
    "resources",
];
const STEP_ARGS: [&str; 9] =
    ["num_workers", "skip", "sends", "streams", "waits", "retry", "for_steps", "max_recoveries", "children"];

/// The default of `num_workers`, as in LlamaIndex.
pub const DEFAULT_NUM_WORKERS: usize = 4;

/// The arguments of one `#[step]` attribute.
pub struct StepArgs {
    pub num_workers: usize,
    pub skip: Vec<Check>,
    pub sends: Vec<EventTy>,
    pub streams: Vec<EventTy>,
    /// Events it waits for in `ctx.wait_for_event`: answers from the caller.
    pub waits: Vec<EventTy>,
    pub retry: Option<syn::Expr>,
    /// `for_steps = [..]`: the steps a failure handler covers.
    pub for_steps: Option<Vec<Ident>>,
    /// `max_recoveries = N`, checked to be at least 1.
    pub max_recoveries: Option<syn::LitInt>,
    /// `children = [Type, ..]`: the workflows it may run as children.
    pub children: Vec<syn::Type>,
}

impl Default for StepArgs {
    fn default() -> Self {
        Self {
            num_workers: DEFAULT_NUM_WORKERS,
            skip: Vec::new(),
            sends: Vec::new(),
            streams: Vec::new(),
            waits: Vec::new(),
            retry: None,
            for_steps: None,
            children: Vec::new(),
            max_recoveries: None,
        }
    }
}

/// Parses `#[workflow(..)]`'s arguments.
pub fn workflow_args(tokens: TokenStream, cx: &Ctxt) -> WorkflowArgs {
    let mut args = WorkflowArgs::default();
    let mut seen = Seen::default();
    let parser = syn::meta::parser(|meta| {
        let key = meta_key(&meta);
        if !seen.first(&key, &meta, cx) {
            return skip_value(&meta);
        }
        match key.as_str() {
            "start" => args.start = Some(EventTy::new(meta.value()?.parse()?)),
            "stop" => args.stop = Some(EventTy::new(meta.value()?.parse()?)),
            "skip" => args.skip = skip_list(&meta, cx)?,
            "external" => args.external = type_list(&meta)?,
            "requests" => args.requests = type_list(&meta)?,
            "event_enum" => args.event_enum = Some(meta.value()?.parse()?),
            "step_enum" => args.step_enum = Some(meta.value()?.parse()?),
            "mermaid" => args.mermaid = Some(meta.value()?.parse()?),
            "register" => args.register = type_list(&meta)?.into_iter().map(|e| e.ty).collect(),
            "new" => args.constructor = Some(meta.value()?.parse()?),
            "num_concurrent_runs" => {
                let expr: syn::Expr = meta.value()?.parse()?;
                args.num_concurrent_runs = at_least_one(
                    &expr,
                    "num_concurrent_runs",
                    "a workflow instance that may run nothing never runs",
                    cx,
                );
            }
            "resources" => args.resources = named_type_list(&meta)?,
            _ => {
                cx.error_spanned_by(
                    &meta.path,
                    format!(
                        "unknown `#[workflow]` argument `{key}`{}; expected `start = Type`, `stop = Type`, \
                         `skip = [check, ..]`, `external = [Type, ..]`, `requests = [Type, ..]`, \
                         `event_enum = Name`, `step_enum = Name`, `mermaid = name`, \
                         `new = path::to::constructor`, `register = [Flow<Concrete>, ..]`, \
                         `num_concurrent_runs = N` or `resources = [name = Factory, ..]`",
                        did_you_mean(&key, WORKFLOW_ARGS)
                    ),
                );
                skip_value(&meta)?;
            }
        }
        Ok(())
    });
    if let Err(e) = parser.parse2(tokens) {
        cx.syn_error(e);
    }
    args
}

/// Parses one `#[step]` / `#[step(..)]` attribute.
pub fn step_args(attr: &syn::Attribute, cx: &Ctxt) -> StepArgs {
    let mut args = StepArgs::default();
    if matches!(attr.meta, syn::Meta::Path(_)) {
        return args;
    }
    let mut seen = Seen::default();
    let result = attr.parse_nested_meta(|meta| {
        let key = meta_key(&meta);
        if !seen.first(&key, &meta, cx) {
            return skip_value(&meta);
        }
        match key.as_str() {
            "num_workers" => {
                let expr: syn::Expr = meta.value()?.parse()?;
                if let Some(n) = num_workers(&expr, cx) {
                    args.num_workers = n;
                }
            }
            "skip" => args.skip = skip_list(&meta, cx)?,
            "sends" => args.sends = type_list(&meta)?,
            "streams" => args.streams = type_list(&meta)?,
            "waits" => args.waits = type_list(&meta)?,
            "retry" => args.retry = Some(meta.value()?.parse()?),
            "for_steps" => args.for_steps = Some(ident_list(&meta)?),
            "children" => args.children = type_list(&meta)?.into_iter().map(|e| e.ty).collect(),
            "max_recoveries" => {
                let expr: syn::Expr = meta.value()?.parse()?;
                args.max_recoveries = max_recoveries(expr, cx);
            }
            _ => {
                cx.error_spanned_by(
                    &meta.path,
                    format!(
                        "unknown `#[step]` argument `{key}`{}; expected `num_workers = N`, \
                         `skip = [check, ..]`, `sends = [Type, ..]`, `streams = [Type, ..]`, \
                         `waits = [Type, ..]`, `retry = Backoff::..`, `for_steps = [step, ..]`, \
                         `max_recoveries = N` or `children = [Workflow, ..]`",
                        did_you_mean(&key, STEP_ARGS)
                    ),
                );
                skip_value(&meta)?;
            }
        }
        Ok(())
    });
    if let Err(e) = result {
        cx.syn_error(e);
    }
    args
}

fn num_workers(expr: &syn::Expr, cx: &Ctxt) -> Option<usize> {
    at_least_one(expr, "num_workers", "a step with no worker never runs", cx)
}

/// A positive integer literal for argument `key`; `why` says what 0 would mean.
fn at_least_one(expr: &syn::Expr, key: &str, why: &str, cx: &Ctxt) -> Option<usize> {
    let syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Int(lit), .. }) = expr else {
        cx.error_spanned_by(expr, format!("`{key}` takes an integer literal, such as `{key} = 4`"));
        return None;
    };
    match lit.base10_parse::<usize>() {
        Ok(0) => {
            cx.error_spanned_by(lit, format!("`{key}` must be at least 1: {why}"));
            None
        }
        Ok(n) => Some(n),
        Err(e) => {
            cx.syn_error(e);
            None
        }
    }
}

fn max_recoveries(expr: syn::Expr, cx: &Ctxt) -> Option<syn::LitInt> {
    let syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Int(lit), .. }) = expr else {
        cx.error_spanned_by(expr, "`max_recoveries` takes an integer literal, such as `max_recoveries = 3`");
        return None;
    };
    match lit.base10_parse::<u32>() {
        Ok(0) => {
            cx.error_spanned_by(
                &lit,
                "`max_recoveries` must be at least 1: a handler allowed no recovery never runs; \
                 remove the handler to let failures end the run",
            );
            None
        }
        Ok(_) => Some(lit),
        Err(e) => {
            cx.syn_error(e);
            None
        }
    }
}

/// Parses `= [name, ..]`.
fn ident_list(meta: &ParseNestedMeta) -> syn::Result<Vec<Ident>> {
    let value = meta.value()?;
    let content;
    syn::bracketed!(content in value);
    Ok(Punctuated::<Ident, Token![,]>::parse_terminated(&content)?.into_iter().collect())
}

/// Parses `= [name, ..]` into checks, reporting unknown names.
fn skip_list(meta: &ParseNestedMeta, cx: &Ctxt) -> syn::Result<Vec<Check>> {
    let names = ident_list(meta)?;
    let known: Vec<_> = Check::ALL.iter().map(|c| format!("`{}`", c.name())).collect();
    let mut skip = Vec::new();
    for name in names {
        match Check::from_name(&name.to_string()) {
            Some(check) => skip.push(check),
            None => cx.error_spanned_by(
                &name,
                format!(
                    "unknown check `{name}`{}; the checks that can be skipped are {}",
                    did_you_mean(&name.to_string(), Check::ALL.map(Check::name)),
                    known.join(", ")
                ),
            ),
        }
    }
    Ok(skip)
}

/// Parses `= [name = Type, ..]`.
fn named_type_list(meta: &ParseNestedMeta) -> syn::Result<Vec<(Ident, syn::Type)>> {
    let value = meta.value()?;
    let content;
    syn::bracketed!(content in value);
    let entry = |input: syn::parse::ParseStream| -> syn::Result<(Ident, syn::Type)> {
        let name: Ident = input.parse()?;
        input.parse::<Token![=]>()?;
        Ok((name, input.parse()?))
    };
    Ok(Punctuated::<(Ident, syn::Type), Token![,]>::parse_terminated_with(&content, entry)?
        .into_iter()
        .collect())
}

/// Parses `= [Type, ..]`.
fn type_list(meta: &ParseNestedMeta) -> syn::Result<Vec<EventTy>> {
    let value = meta.value()?;
    let content;
    syn::bracketed!(content in value);
    let types = Punctuated::<syn::Type, Token![,]>::parse_terminated(&content)?;
    Ok(types.into_iter().map(EventTy::new).collect())
}

fn meta_key(meta: &ParseNestedMeta) -> String {
    meta.path
        .get_ident()
        .map_or_else(|| quote::ToTokens::to_token_stream(&meta.path).to_string(), Ident::to_string)
}

/// Consumes `= value` after a key that was rejected, whatever the value is
/// (a type list such as `[A<B>]` is no expression), up to the next `,`.
fn skip_value(meta: &ParseNestedMeta) -> syn::Result<()> {
    if meta.input.peek(Token![=]) {
        let value = meta.value()?;
        while !value.is_empty() && !value.peek(Token![,]) {
            let _: proc_macro2::TokenTree = value.parse()?;
        }
    }
    Ok(())
}

/// Remembers which keys an attribute gave, to reject repeats.
#[derive(Default)]
struct Seen(Vec<String>);

impl Seen {
    fn first(&mut self, key: &str, meta: &ParseNestedMeta, cx: &Ctxt) -> bool {
        if self.0.iter().any(|k| k == key) {
            cx.error_spanned_by(&meta.path, format!("`{key}` is given twice; keep one"));
            return false;
        }
        self.0.push(key.to_owned());
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;
    use syn::parse_quote;

    fn messages(cx: Ctxt) -> Vec<String> {
        cx.check().err().unwrap_or_default().iter().map(ToString::to_string).collect()
    }

    #[test]
    fn step_args_read_workers_and_skips() {
        let cx = Ctxt::new();
        let attr: syn::Attribute = parse_quote!(#[step(num_workers = 2, skip = [dead_end], sends = [Job, crate::Done], streams = [Progress], retry = Backoff::fixed(3, D))]);
        let args = step_args(&attr, &cx);
        assert!(messages(cx).is_empty());
        assert_eq!(args.num_workers, 2);
        assert_eq!(args.sends.iter().map(|e| e.key.as_str()).collect::<Vec<_>>(), ["Job", "Done"]);
        assert_eq!(args.streams[0].key, "Progress");
        assert!(args.retry.is_some());
        assert_eq!(args.skip[0], Check::DeadEnd);
    }

    #[test]
    fn bare_step_gets_defaults() {
        let cx = Ctxt::new();
        let args = step_args(&parse_quote!(#[step]), &cx);
        assert!(messages(cx).is_empty());
        assert_eq!(args.num_workers, DEFAULT_NUM_WORKERS);
    }

    #[test]
    fn every_bad_step_argument_is_reported() {
        let cx = Ctxt::new();
        let attr: syn::Attribute =
            parse_quote!(#[step(num_workers = 0, retries = 3, skip = [nope], num_workers = 2)]);
        step_args(&attr, &cx);
        let m = messages(cx);
        assert_eq!(m.len(), 4, "{m:?}");
        assert!(m[0].contains("at least 1"));
        assert!(m[1].contains("unknown `#[step]` argument `retries`"), "{m:?}");
        assert!(m[2].contains("unknown check `nope`"));
        assert!(m[3].contains("given twice"));
    }

    #[test]
    fn misspelled_arguments_and_checks_get_a_suggestion() {
        let cx = Ctxt::new();
        step_args(&parse_quote!(#[step(num_worker = 2, skip = [dead_ends])]), &cx);
        workflow_args(quote!(extrenal = [A]), &cx);
        let m = messages(cx);
        assert!(m[0].contains("`num_worker` (did you mean `num_workers`?)"), "{m:?}");
        assert!(m[1].contains("`dead_ends` (did you mean `dead_end`?)"), "{m:?}");
        assert!(m[2].contains("`extrenal` (did you mean `external`?)"), "{m:?}");
        assert_eq!(m.len(), 3, "a type list after an unknown key is skipped whole: {m:?}");
    }

    #[test]
    fn workflow_args_read_start_stop_and_skip() {
        let cx = Ctxt::new();
        let args = workflow_args(quote!(start = Begin, stop = crate::End, skip = [reachability]), &cx);
        assert!(messages(cx).is_empty());
        assert_eq!(args.start.unwrap().key, "Begin");
        assert_eq!(args.stop.unwrap().key, "End");
        assert_eq!(args.skip[0], Check::Reachability);
    }

    #[test]
    fn unknown_workflow_argument_is_reported() {
        let cx = Ctxt::new();
        workflow_args(quote!(timeout = 5), &cx);
        assert!(messages(cx)[0].contains("unknown `#[workflow]` argument `timeout`"));
    }
}
