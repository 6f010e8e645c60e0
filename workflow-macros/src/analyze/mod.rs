//! Stage 2: prove the event graph sound (DESIGN.md §2), collecting every error.
//!
//! Each check reports only what the earlier checks did not already explain,
//! so one mistake gives one error: a step whose event nobody emits is reported
//! as `unproduced`, not also as unreachable.
//!
//! Roles an event can have besides "emitted by a step, consumed by a step":
//! - the start event (from `run`) and *external* events (from the caller:
//!   `HumanResponse<T>`, `#[workflow(external = [..])]`, and `StepFailed`,
//!   which the runtime emits) need no producer and are where runs begin;
//! - the stop event and *requests* (to the caller: `InputRequired<T>`,
//!   `#[workflow(requests = [..])]`) need no consumer; a request is a way
//!   out of a loop only if an answer to it (an external event, or one a step
//!   declares in `waits = [..]`) reaches a step that leads to the stop event;
//! - *streamed* events (`#[step(streams = [..])]`) go to the caller only:
//!   they are neither edges nor ways out.

mod handlers;
mod resources;

use self::handlers::failure_handlers;
use self::resources::resources;
use crate::internals::suggest::{did_you_mean, nearest};
use crate::internals::Ctxt;
use crate::parse::ast::{Check, EventTy, Step, WorkflowDef};

/// What the checks established, for lowering (and, where they failed, for
/// the fallback expansion, which is why start and stop may be missing).
pub struct Analysis {
    pub start: Option<EventTy>,
    pub stop: Option<EventTy>,
    /// The context's state type, if some step takes a context.
    pub state: Option<syn::Type>,
}

pub fn analyze(def: &WorkflowDef, cx: &Ctxt) -> Analysis {
    let state = state_type(def, cx);
    failure_handlers(def, cx);
    resources(def, cx);
    let graph = Graph { def };
    if def.incomplete || def.steps.is_empty() {
        // The signature errors already say what is wrong; find start and stop
        // quietly, for the fallback's input and output types.
        let quiet = Ctxt::new();
        let (start, stop) = (graph.start(&quiet), graph.stop(&quiet));
        let _ = quiet.check();
        return Analysis { start, stop, state };
    }
    let start = graph.start(cx);
    let stop = graph.stop(cx);
    graph.unmatched(start.as_ref(), stop.as_ref(), cx);
    let start_consumed = start.as_ref().filter(|s| graph.has_consumer(s));
    let reachable = start_consumed.map(|start| graph.reachable(start, stop.as_ref(), cx));
    if let Some(stop) = &stop {
        graph.dead_ends(stop, reachable.as_deref(), cx);
    }
    Analysis { start, stop, state }
}

/// All steps must agree on the context's state type.
fn state_type(def: &WorkflowDef, cx: &Ctxt) -> Option<syn::Type> {
    let mut first: Option<(&Step, EventTy)> = None;
    for step in &def.steps {
        let Some(state) = &step.context else { continue };
        let state = EventTy::new(state.clone());
        match &first {
            None => first = Some((step, state)),
            Some((other, first_state)) if *first_state != state => cx.error_spanned_by(
                &state.ty,
                format!(
                    "step `{}` uses `Context<{}>` but step `{}` uses `Context<{}>`; \
                     a workflow has one state type: use the same `S` in every step",
                    step.ident, state.key, other.ident, first_state.key
                ),
            ),
            Some(_) => {}
        }
    }
    first.map(|(_, s)| s.ty)
}

/// Whether an event comes from outside the steps: the caller or the runtime.
pub fn is_external(def: &WorkflowDef, event: &EventTy) -> bool {
    is_answer(def, event) || event.is_wrapper_named("StepFailed")
}

/// Whether an event is an answer the caller sends in: `HumanResponse<T>`,
/// a type of `#[workflow(external = [..])]`, or one a step waits for.
pub fn is_answer(def: &WorkflowDef, event: &EventTy) -> bool {
    event.is_wrapper_named("HumanResponse")
        || def.args.external.contains(event)
        || def.steps.iter().any(|s| s.waits.contains(event))
}

/// Whether an event asks the caller for input.
pub fn is_request(def: &WorkflowDef, event: &EventTy) -> bool {
    event.is_wrapper_named("InputRequired") || def.args.requests.contains(event)
}

struct Graph<'a> {
    def: &'a WorkflowDef,
}

impl<'a> Graph<'a> {
    fn steps(&self) -> &'a [Step] {
        &self.def.steps
    }

    fn skipped(&self, step: &Step, check: Check) -> bool {
        step.skips(check) || self.def.args.skip.contains(&check)
    }

    fn has_producer(&self, event: &EventTy) -> bool {
        self.steps().iter().any(|s| s.produces().any(|e| e == event))
    }

    fn has_consumer(&self, event: &EventTy) -> bool {
        self.steps().iter().any(|s| s.consumes().contains(event))
    }

    /// Events a step emits that no step consumes (requests aside).
    fn unconsumed_events(&self) -> Vec<&EventTy> {
        let mut found: Vec<&EventTy> = Vec::new();
        for event in self.steps().iter().flat_map(Step::produces) {
            if !self.has_consumer(event) && !is_request(self.def, event) && !found.contains(&event) {
                found.push(event);
            }
        }
        found
    }

    /// Events a step consumes that no step emits and no one sends in.
    fn orphans(&self) -> Vec<&EventTy> {
        let mut found: Vec<&EventTy> = Vec::new();
        for event in self.steps().iter().flat_map(|s| s.consumes()) {
            if !self.has_producer(event) && !is_external(self.def, event) && !found.contains(&event) {
                found.push(event);
            }
        }
        found
    }

    /// For a missing start or stop: the types that could be that event
    /// under another name, which the macro cannot see through.
    fn maybe_alias(&self, candidates: Vec<&EventTy>, wrapper: &str) -> String {
        if candidates.is_empty() {
            return String::new();
        }
        let names: Vec<String> = candidates.iter().map(|e| format!("`{}`", e.key)).collect();
        format!(
            "; if {} is an alias of `{wrapper}<T>`, write `{wrapper}<T>` in the signature: the macro reads \
             signatures as written",
            names.join(" or ")
        )
    }

    /// Check 1: exactly one start event type, consumed by some step.
    fn start(&self, cx: &Ctxt) -> Option<EventTy> {
        let declared = self.def.args.start.clone();
        let consumed = self.steps().iter().flat_map(|s| {
            s.consumes().iter().filter(|e| e.is_wrapper_named("StartEvent")).map(move |e| (e, s))
        });
        let start = self.unique(declared, consumed, "start", "takes", cx);
        match &start {
            None => cx.error_about(
                &self.def.item.self_ty,
                format!(
                    "workflow `{}` has no start: no step consumes a start event; add a step that takes \
                     `ev: StartEvent<Input>`, or declare your own with `#[workflow(start = MyEvent)]`{}",
                    self.def.name,
                    self.maybe_alias(self.orphans(), "StartEvent")
                ),
                self.steps().iter().flat_map(|s| s.consumes()).map(|e| &e.ty),
            ),
            Some(start) if !self.has_consumer(start) => cx.error_about(
                &start.ty,
                format!(
                    "no step consumes the start event `{}`; add a step that takes `ev: {}`",
                    start.key, start.key
                ),
                [&start.ty],
            ),
            _ => {}
        }
        start
    }

    /// Check 2: exactly one stop event type, emitted by some step, consumed by none.
    fn stop(&self, cx: &Ctxt) -> Option<EventTy> {
        let declared = self.def.args.stop.clone();
        let emitted = self
            .steps()
            .iter()
            .flat_map(|s| s.produces().filter(|e| e.is_wrapper_named("StopEvent")).map(move |e| (e, s)));
        let stop = self.unique(declared, emitted, "stop", "emits", cx);
        match &stop {
            None => cx.error_about(
                &self.def.item.self_ty,
                format!(
                    "workflow `{}` never stops: no step emits a stop event; add `StopEvent<Output>` to the \
                     return type of the step that finishes, as in `-> StopEvent<Output>`{}",
                    self.def.name,
                    self.maybe_alias(self.unconsumed_events(), "StopEvent")
                ),
                self.steps().iter().flat_map(Step::produces).map(|e| &e.ty),
            ),
            Some(stop) => {
                if !self.has_producer(stop) {
                    cx.error_about(
                        &stop.ty,
                        format!(
                            "no step emits the stop event `{}`; return it from the step that finishes",
                            stop.key
                        ),
                        [&stop.ty],
                    );
                }
                for step in self.steps() {
                    for event in step.consumes().iter().filter(|e| *e == stop) {
                        cx.error_about(
                            &event.ty,
                            format!(
                                "step `{}` consumes the stop event `{}`, but the stop event ends the run and is \
                                 never delivered; have the step before it emit another event for `{}` to consume",
                                step.ident, stop.key, step.ident
                            ),
                            [&event.ty],
                        );
                    }
                }
            }
        }
        stop
    }

    /// The one start (or stop) type: the declared one, else the first found;
    /// every other candidate is an error at its own span.
    fn unique<'s>(
        &self,
        declared: Option<EventTy>,
        found: impl Iterator<Item = (&'s EventTy, &'s Step)>,
        role: &str,
        verb: &str,
        cx: &Ctxt,
    ) -> Option<EventTy> {
        let mut chosen = declared.clone();
        for (event, step) in found {
            match &chosen {
                None => chosen = Some(event.clone()),
                Some(c) if c == event => {}
                Some(c) => cx.error_about(
                    &event.ty,
                    format!(
                        "step `{}` {verb} `{}`, but this workflow's {role} event is `{}`{}; a workflow has exactly \
                         one {role} event type: use `{}` here too",
                        step.ident,
                        event.key,
                        c.key,
                        if declared.is_some() { " (declared in `#[workflow]`)" } else { "" },
                        c.key
                    ),
                    [&event.ty, &c.ty],
                ),
            }
        }
        chosen
    }

    /// Checks 3 and 4: every event a step returns or sends has a consumer
    /// (unless it is the stop event or a request for the caller), and every
    /// consumed event is emitted by some step, or is the start event, or
    /// comes from outside. An event emitted and never consumed beside one
    /// consumed and never emitted is most likely one type under two names (a
    /// typo, a `use … as` rename, an alias): that pair is one error.
    fn unmatched(&self, start: Option<&EventTy>, stop: Option<&EventTy>, cx: &Ctxt) {
        let mut unconsumed: Vec<(&Step, &EventTy)> = Vec::new();
        for step in self.steps() {
            for event in step.produces() {
                let exempt = Some(event) == stop
                    || event.is_wrapper_named("StopEvent") // a second stop type, already reported
                    || is_request(self.def, event)
                    || self.has_consumer(event)
                    || self.skipped(step, Check::Unconsumed);
                if !exempt && !unconsumed.iter().any(|(s, e)| s.ident == step.ident && *e == event) {
                    unconsumed.push((step, event));
                }
            }
        }
        let mut unproduced: Vec<(&Step, &EventTy)> = Vec::new();
        for step in self.steps() {
            for event in step.consumes() {
                let exempt = Some(event) == start
                    || Some(event) == stop
                    || event.is_wrapper_named("StartEvent")
                    || is_external(self.def, event)
                    || self.has_producer(event)
                    || self.skipped(step, Check::Unproduced);
                if !exempt {
                    unproduced.push((step, event));
                }
            }
        }
        let key = |e: &&EventTy| e.key.clone();
        let unique = |keys: Vec<String>| {
            let mut seen: Vec<String> = Vec::new();
            keys.into_iter().for_each(|k| {
                if !seen.contains(&k) {
                    seen.push(k)
                }
            });
            seen
        };
        let lost = unique(unconsumed.iter().map(|(_, e)| key(e)).collect());
        let orphans = unique(unproduced.iter().map(|(_, e)| key(e)).collect());
        // Pair each orphan with its nearest lost event, then a last lone pair.
        let mut pairs: Vec<(String, String)> = Vec::new();
        for orphan in &orphans {
            let free = lost.iter().filter(|l| !pairs.iter().any(|(_, p)| p == *l)).map(String::as_str);
            if let Some(near) = nearest(orphan, free) {
                pairs.push((orphan.clone(), near.to_owned()));
            }
        }
        let single = |list: &[String], taken: &dyn Fn(&String) -> bool| {
            let left: Vec<&String> = list.iter().filter(|k| !taken(k)).collect();
            (left.len() == 1).then(|| left[0].clone())
        };
        let lone_orphan = single(&orphans, &|k| pairs.iter().any(|(o, _)| o == k));
        let lone_lost = single(&lost, &|k| pairs.iter().any(|(_, l)| l == k));
        if let (Some(orphan), Some(lost)) = (lone_orphan, lone_lost) {
            pairs.push((orphan, lost));
        }

        for (step, event) in &unconsumed {
            // Said with its pair; or, with no stop event, in "never stops".
            if pairs.iter().any(|(_, l)| *l == event.key) || stop.is_none() {
                continue;
            }
            cx.error_about(
                &event.ty,
                format!(
                    "`{}` is emitted by step `{}` but no step consumes it; add a step that takes \
                     `ev: {}`, or stop emitting it (skip this check with `#[step(skip = [unconsumed])]`)",
                    event.key, step.ident, event.key
                ),
                [&event.ty],
            );
        }
        for (step, event) in &unproduced {
            if start.is_none() {
                continue; // said in "has no start"
            }
            let paired = pairs.iter().find(|(o, _)| *o == event.key);
            if let Some((_, lost)) = paired {
                let lost_event = unconsumed.iter().find(|(_, e)| e.key == *lost);
                let emitter = lost_event.map(|(s, _)| &s.ident);
                let emitter = emitter.map_or_else(String::new, |s| format!("step `{s}` "));
                let typo = nearest(&event.key, [lost.as_str()]).is_some();
                let advice = if typo {
                    format!("did you mean `{lost}`? Write one name everywhere")
                } else {
                    format!(
                        "if `{}` and `{lost}` are one type (a `use … as` rename or a type alias), write one \
                         name everywhere",
                        event.key
                    )
                };
                cx.error_about(
                    &event.ty,
                    format!(
                        "step `{}` consumes `{}`, which no step emits, while {emitter}emits `{lost}`, which no \
                         step consumes; {advice}: the macro compares event types as written",
                        step.ident, event.key
                    ),
                    [&event.ty].into_iter().chain(lost_event.map(|(_, e)| &e.ty)),
                );
                continue;
            }
            let streamed = self.steps().iter().any(|s| s.streams.contains(event));
            let known: Vec<&str> = self
                .steps()
                .iter()
                .flat_map(|s| s.produces().chain(&s.streams))
                .map(|e| e.key.as_str())
                .collect();
            cx.error_about(
                &event.ty,
                format!(
                    "step `{}` consumes `{}` but no step emits it, so it can never run; emit `{}` from \
                     another step's return type or `sends = [..]`{}, or declare it as coming from the \
                     caller with `#[workflow(external = [{}])]`{}",
                    step.ident,
                    event.key,
                    event.key,
                    if streamed { " (`streams` only reaches the caller)" } else { "" },
                    event.key,
                    did_you_mean(&event.key, known),
                ),
                [&event.ty],
            );
        }
    }

    /// Check 5: every step can be reached from where runs begin: the start
    /// event, external events, and events already reported as unproduced.
    /// Returns, per step, whether it is reachable.
    fn reachable(&self, start: &EventTy, stop: Option<&EventTy>, cx: &Ctxt) -> Vec<bool> {
        let steps = self.steps();
        let mut events: Vec<EventTy> = vec![start.clone()];
        for step in steps {
            for event in step.consumes() {
                if is_external(self.def, event) || !self.has_producer(event) {
                    events.push(event.clone());
                }
            }
        }
        let mut reached: Vec<bool> = steps.iter().map(|s| self.skipped(s, Check::Reachability)).collect();
        for (i, step) in steps.iter().enumerate() {
            if reached[i] {
                events.extend(step.produces().cloned());
            }
        }
        let mut changed = true;
        while changed {
            changed = false;
            for (i, step) in steps.iter().enumerate() {
                if !reached[i] && step.consumes().iter().any(|e| events.contains(e)) {
                    reached[i] = true;
                    changed = true;
                    events.extend(step.produces().cloned());
                }
            }
        }
        for (i, step) in steps.iter().enumerate() {
            if reached[i] || step.consumes().iter().any(|e| Some(e) == stop) {
                continue;
            }
            let mut producers: Vec<String> = Vec::new();
            for event in step.consumes() {
                for producer in steps.iter().filter(|s| s.produces().any(|e| e == event)) {
                    let name = format!("`{}`", producer.ident);
                    if !producers.contains(&name) {
                        producers.push(name);
                    }
                }
            }
            let consumed: Vec<String> = step.consumes().iter().map(|e| format!("`{}`", e.key)).collect();
            cx.error_about(
                &step.ident,
                format!(
                    "step `{}` can never run: {} is emitted only by {}, which the start event never reaches; \
                     connect them to the start event or remove them",
                    step.ident,
                    consumed.join(" or "),
                    producers.join(", ")
                ),
                step.consumes().iter().map(|e| &e.ty),
            );
        }
        reached
    }

    /// Check 6: from every step, some path leads to the stop event, or to a
    /// request for the caller's input whose answer leads on to it. Streamed
    /// events are not paths: they reach the caller only.
    fn dead_ends(&self, stop: &EventTy, reachable: Option<&[bool]>, cx: &Ctxt) {
        let steps = self.steps();
        let mut good: Vec<EventTy> = vec![stop.clone()];
        let mut leads: Vec<bool> = steps.iter().map(|s| self.skipped(s, Check::DeadEnd)).collect();
        let takes_answer =
            |step: &Step| step.consumes().iter().chain(&step.waits).any(|e| is_answer(self.def, e));
        // Whether the caller's answer to a request reaches a step that leads on.
        let mut answered = false;
        let mut changed = true;
        while changed {
            changed = false;
            for (i, step) in steps.iter().enumerate() {
                if leads[i] {
                    continue;
                }
                let ways_out = |e: &EventTy| good.contains(e) || (answered && is_request(self.def, e));
                if step.produces().any(ways_out) {
                    leads[i] = true;
                    changed = true;
                }
            }
            for (i, step) in steps.iter().enumerate() {
                if leads[i] {
                    for event in step.consumes() {
                        if !good.contains(event) {
                            good.push(event.clone());
                        }
                    }
                    if !answered && takes_answer(step) {
                        answered = true;
                        changed = true;
                    }
                }
            }
        }
        for (i, step) in steps.iter().enumerate() {
            let unreachable = reachable.is_some_and(|r| !r[i]);
            let leaks = !self.skipped(step, Check::Unconsumed)
                && step.produces().any(|e| !self.has_consumer(e) && e != stop && !is_request(self.def, e));
            // Its input was reported (or waived) as unproduced already.
            let orphan = step.consumes().iter().any(|e| {
                !self.has_producer(e) && !is_external(self.def, e) && !e.is_wrapper_named("StartEvent")
            }) && self.def.args.start.as_ref().is_none_or(|s| !step.consumes().contains(s));
            if leads[i] || unreachable || leaks || orphan {
                continue;
            }
            let emits: Vec<_> = step.produces().map(|e| format!("`{}`", e.key)).collect();
            let first = step.produces().next().map_or("E", |e| e.key.as_str());
            let unanswered = match steps.iter().flat_map(Step::produces).find(|e| is_request(self.def, e)) {
                Some(request) => format!(
                    "; the request `{}` is no way out, since no step that leads to the stop event takes an \
                     answer (`HumanResponse<T>` or a type of `#[workflow(external = [..])]`) or waits for one \
                     (`#[step(waits = [..])]`)",
                    request.key
                ),
                None => String::new(),
            };
            let streamed = if step.streams.iter().any(|e| e == stop) {
                format!("; streaming `{}` only tells the caller, it does not stop the run", stop.key)
            } else {
                String::new()
            };
            cx.error_about(
                &step.ident,
                format!(
                    "step `{}` can never lead to the stop event: what it emits ({}) only reaches steps that \
                     never emit `{}`{unanswered}{streamed}; give this loop a way out, e.g. `-> Emit<({first}, {})>`",
                    step.ident,
                    emits.join(", "),
                    stop.key,
                    stop.key
                ),
                step.produces().chain(step.consumes()).map(|e| &e.ty),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse;
    use quote::quote;
    use syn::parse_quote;

    fn errors_of(args: proc_macro2::TokenStream, item: syn::ItemImpl) -> Vec<String> {
        let cx = Ctxt::new();
        let def = parse(args, item, &cx);
        let _ = analyze(&def, &cx);
        cx.check().err().unwrap_or_default().iter().map(ToString::to_string).collect()
    }

    #[test]
    fn a_sound_graph_with_branch_and_loop_passes() {
        let errors = errors_of(
            quote!(),
            parse_quote! {
                impl F {
                    #[step] async fn a(&self, ev: StartEvent<u8>) -> B { todo!() }
                    #[step] async fn b(&self, ev: B) -> Emit<(B, StopEvent<u8>)> { todo!() }
                }
            },
        );
        assert!(errors.is_empty(), "{errors:?}");
    }

    #[test]
    fn reports_unconsumed_and_unproduced_together() {
        let errors = errors_of(
            quote!(),
            parse_quote! {
                impl F {
                    #[step] async fn a(&self, ev: StartEvent<u8>) -> Emit<(Lost, StopEvent<u8>)> { todo!() }
                    #[step] async fn b(&self, ev: Orphan) -> StopEvent<u8> { todo!() }
                }
            },
        );
        assert_eq!(errors.len(), 1, "one mistake, one error: {errors:?}");
        assert!(
            errors[0]
                .contains("step `b` consumes `Orphan`, which no step emits, while step `a` emits `Lost`"),
            "{errors:?}"
        );
        assert!(errors[0].contains("if `Orphan` and `Lost` are one type"), "{errors:?}");
    }

    #[test]
    fn unrelated_lost_and_orphan_events_are_reported_one_by_one() {
        let errors = errors_of(
            quote!(),
            parse_quote! {
                impl F {
                    #[step] async fn a(&self, ev: StartEvent<u8>) -> Emit<(Lost, Gone, StopEvent<u8>)> { todo!() }
                    #[step] async fn b(&self, ev: OneOf<(Orphan, Waif)>) -> StopEvent<u8> { todo!() }
                }
            },
        );
        assert_eq!(errors.len(), 4, "{errors:?}");
    }

    #[test]
    fn reports_missing_start_and_stop() {
        let errors =
            errors_of(quote!(), parse_quote!(impl F { #[step] async fn a(&self, ev: A) -> A { todo!() } }));
        assert!(errors[0].contains("has no start"), "{errors:?}");
        assert!(errors[1].contains("never stops"), "{errors:?}");
    }

    #[test]
    fn reports_unreachable_islands_and_dead_end_cycles() {
        let errors = errors_of(
            quote!(),
            parse_quote! {
                impl F {
                    #[step] async fn a(&self, ev: StartEvent<u8>) -> Emit<(Spin, StopEvent<u8>)> { todo!() }
                    #[step] async fn spin(&self, ev: Spin) -> Spin { todo!() }
                    #[step] async fn island(&self, ev: Island) -> Island { todo!() }
                }
            },
        );
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].contains("step `island` can never run"));
        assert!(errors[1].contains("step `spin` can never lead to the stop event"));
    }

    #[test]
    fn failure_handlers_cover_each_step_once_and_name_only_steps() {
        let item: syn::ItemImpl = parse_quote! {
            impl F {
                #[step] async fn a(&self, ev: StartEvent<u8>) -> StopEvent<u8> { todo!() }
                #[step(for_steps = [a])] async fn only_a(&self, ev: StepFailed) -> StopEvent<u8> { todo!() }
                #[step] async fn rest(&self, ev: StepFailed) -> StopEvent<u8> { todo!() }
            }
        };
        assert!(errors_of(quote!(), item).is_empty(), "one scoped handler and one catch-all are sound");
        let item: syn::ItemImpl = parse_quote! {
            impl F {
                #[step] async fn a(&self, ev: StartEvent<u8>) -> StopEvent<u8> { todo!() }
                #[step(for_steps = [a, b, h2])] async fn h1(&self, ev: StepFailed) -> StopEvent<u8> { todo!() }
                #[step(for_steps = [a])] async fn h2(&self, ev: StepFailed) -> StopEvent<u8> { todo!() }
                #[step] async fn any1(&self, ev: StepFailed) -> StopEvent<u8> { todo!() }
                #[step] async fn any2(&self, ev: StepFailed) -> StopEvent<u8> { todo!() }
            }
        };
        let errors = errors_of(quote!(), item);
        assert_eq!(errors.len(), 4, "{errors:?}");
        assert!(errors[0].starts_with("no step named `b`"), "{errors:?}");
        assert!(errors[1].starts_with("`h2` handles failures itself"), "{errors:?}");
        assert!(errors[2].starts_with("`a` is covered by `h1` already"), "{errors:?}");
        assert!(errors[3].starts_with("`any2` and `any1` both handle every step's failures"), "{errors:?}");
    }

    #[test]
    fn skips_apply_per_step_and_per_workflow() {
        let item: syn::ItemImpl = parse_quote! {
            impl F {
                #[step] async fn a(&self, ev: StartEvent<u8>) -> Emit<(Spin, StopEvent<u8>)> { todo!() }
                #[step(skip = [dead_end])] async fn spin(&self, ev: Spin) -> Spin { todo!() }
            }
        };
        assert!(errors_of(quote!(), item.clone()).is_empty());
        let item: syn::ItemImpl = parse_quote! {
            impl F {
                #[step] async fn a(&self, ev: StartEvent<u8>) -> Emit<(Spin, StopEvent<u8>)> { todo!() }
                #[step] async fn spin(&self, ev: Spin) -> Spin { todo!() }
            }
        };
        assert!(errors_of(quote!(skip = [dead_end]), item).is_empty());
    }

    #[test]
    fn skipping_unconsumed_does_not_hide_a_dead_end() {
        let errors = errors_of(
            quote!(),
            parse_quote! {
                impl F {
                    #[step] async fn a(&self, ev: StartEvent<u8>) -> Emit<(Spin, StopEvent<u8>)> { todo!() }
                    #[step(skip = [unconsumed])] async fn spin(&self, ev: Spin) -> Emit<(Spin, Progress)> { todo!() }
                }
            },
        );
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].contains("step `spin` can never lead to the stop event"));
    }

    #[test]
    fn external_events_begin_runs_and_requests_end_them() {
        let errors = errors_of(
            quote!(external = [Approval]),
            parse_quote! {
                impl F {
                    #[step] async fn ask(&self, ev: StartEvent<u8>) -> InputRequired<String> { todo!() }
                    #[step] async fn on_answer(&self, ev: HumanResponse<String>) -> Mid { todo!() }
                    #[step] async fn on_approval(&self, ev: Approval) -> Mid { todo!() }
                    #[step] async fn finish(&self, ev: Mid) -> StopEvent<u8> { todo!() }
                }
            },
        );
        assert!(errors.is_empty(), "{errors:?}");
    }

    #[test]
    fn a_typo_in_an_event_name_gives_no_cascade() {
        let errors = errors_of(
            quote!(),
            parse_quote! {
                impl F {
                    #[step] async fn a(&self, ev: StartEvent<u8>) -> Retrieved { todo!() }
                    #[step] async fn b(&self, ev: Retreived) -> Checked { todo!() }
                    #[step] async fn c(&self, ev: Checked) -> StopEvent<u8> { todo!() }
                }
            },
        );
        assert_eq!(errors.len(), 1, "one error for the typo, not also unreachable: {errors:?}");
        assert!(errors[0].contains("did you mean `Retrieved`?"), "{errors:?}");
    }

    #[test]
    fn sends_are_edges_and_streams_are_not() {
        let errors = errors_of(
            quote!(),
            parse_quote! {
                impl F {
                    #[step(sends = [Job], streams = [Progress])]
                    async fn a(&self, ctx: &Context<()>, ev: StartEvent<u8>) -> Option<Job> { todo!() }
                    #[step] async fn b(&self, ev: Job) -> StopEvent<u8> { todo!() }
                    #[step] async fn c(&self, ev: Progress) -> StopEvent<u8> { todo!() }
                }
            },
        );
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].contains("consumes `Progress` but no step emits it"), "{errors:?}");
        assert!(errors[0].contains("`streams` only reaches the caller"), "{errors:?}");
    }

    #[test]
    fn a_streamed_stop_or_request_is_no_way_out_of_a_loop() {
        for streamed in [quote!(StopEvent<u32>), quote!(InputRequired<String>)] {
            let errors = errors_of(
                quote!(),
                parse_quote! {
                    impl F {
                        #[step] async fn a(&self, ev: StartEvent<u8>) -> Emit<(Spin, StopEvent<u32>)> { todo!() }
                        #[step(streams = [#streamed])]
                        async fn spin(&self, ctx: &Context<()>, ev: Spin) -> Spin { todo!() }
                    }
                },
            );
            assert_eq!(errors.len(), 1, "{errors:?}");
            assert!(errors[0].contains("step `spin` can never lead to the stop event"), "{errors:?}");
        }
    }

    #[test]
    fn a_request_is_a_way_out_only_if_its_answer_leads_to_the_stop() {
        // Nobody takes an answer.
        let unanswered = errors_of(
            quote!(),
            parse_quote! {
                impl F {
                    #[step] async fn a(&self, ev: StartEvent<u8>) -> Emit<(Spin, StopEvent<u32>)> { todo!() }
                    #[step] async fn spin(&self, ev: Spin) -> Emit<(Spin, InputRequired<String>)> { todo!() }
                }
            },
        );
        assert_eq!(unanswered.len(), 1, "{unanswered:?}");
        assert!(
            unanswered[0].contains("the request `InputRequired<String>` is no way out"),
            "{unanswered:?}"
        );
        // The answer leads straight back into the loop.
        let looping = errors_of(
            quote!(),
            parse_quote! {
                impl F {
                    #[step] async fn a(&self, ev: StartEvent<u8>) -> Emit<(Spin, StopEvent<u32>)> { todo!() }
                    #[step] async fn spin(&self, ev: Spin) -> InputRequired<String> { todo!() }
                    #[step] async fn answer(&self, ev: HumanResponse<bool>) -> Spin { todo!() }
                }
            },
        );
        assert_eq!(looping.len(), 2, "{looping:?}");
        assert!(looping.iter().all(|e| e.contains("can never lead to the stop event")), "{looping:?}");
        // An answer that leads on, taken by a step or by a waiting step.
        let answered = errors_of(
            quote!(),
            parse_quote! {
                impl F {
                    #[step] async fn a(&self, ev: StartEvent<u8>) -> Emit<(Spin, StopEvent<u32>)> { todo!() }
                    #[step] async fn spin(&self, ev: Spin) -> Emit<(Spin, InputRequired<String>)> { todo!() }
                    #[step] async fn answer(&self, ev: HumanResponse<bool>) -> StopEvent<u32> { todo!() }
                }
            },
        );
        assert!(answered.is_empty(), "{answered:?}");
        let waited = errors_of(
            quote!(),
            parse_quote! {
                impl F {
                    #[step] async fn a(&self, ev: StartEvent<u8>) -> Emit<(Spin, Review)> { todo!() }
                    #[step] async fn spin(&self, ev: Spin) -> Emit<(Spin, InputRequired<String>)> { todo!() }
                    #[step(waits = [Verdict])]
                    async fn review(&self, ctx: &Context<()>, ev: Review) -> StopEvent<u32> { todo!() }
                }
            },
        );
        assert!(waited.is_empty(), "{waited:?}");
    }

    #[test]
    fn sends_streams_and_waits_need_a_context() {
        let errors = errors_of(
            quote!(),
            parse_quote! {
                impl F {
                    #[step(sends = [Job])] async fn a(&self, ev: StartEvent<u8>) -> Option<Job> { todo!() }
                    #[step(waits = [HumanResponse<u8>])] async fn b(&self, ev: Job) -> StopEvent<u8> { todo!() }
                }
            },
        );
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].contains("declares `sends = [..]` but takes no context, so it can never send"));
        assert!(errors[1].contains("declares `waits = [..]` but takes no context, so it can never wait"));
    }

    #[test]
    fn a_wait_the_macro_sees_must_be_declared() {
        let errors = errors_of(
            quote!(),
            parse_quote! {
                impl F {
                    #[step(waits = [Yes])]
                    async fn a(&self, ctx: &Context<()>, ev: StartEvent<u8>) -> StopEvent<u8> {
                        let _ = ctx.wait_for_event::<Yes>().await;
                        let _ = ctx.wait_for_event::<HumanResponse<u8>>().await;
                        todo!()
                    }
                }
            },
        );
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].contains("waits for `HumanResponse<u8>` but does not declare it"), "{errors:?}");
        assert!(errors[0].contains("#[step(waits = [Yes, HumanResponse<u8>])]"), "{errors:?}");
    }

    #[test]
    fn reports_two_starts_two_stops_and_consumed_stop() {
        let errors = errors_of(
            quote!(),
            parse_quote! {
                impl F {
                    #[step] async fn a(&self, ev: StartEvent<u8>) -> StopEvent<u8> { todo!() }
                    #[step] async fn b(&self, ev: StartEvent<u16>) -> StopEvent<u16> { todo!() }
                    #[step] async fn c(&self, ev: StopEvent<u8>) -> StopEvent<u8> { todo!() }
                }
            },
        );
        assert!(errors.iter().any(|e| e.contains("exactly one start event type")), "{errors:?}");
        assert!(errors.iter().any(|e| e.contains("exactly one stop event type")), "{errors:?}");
        assert!(errors.iter().any(|e| e.contains("consumes the stop event")), "{errors:?}");
    }

    #[test]
    fn state_types_must_agree() {
        let errors = errors_of(
            quote!(),
            parse_quote! {
                impl F {
                    #[step] async fn a(&self, ctx: &Context<A>, ev: StartEvent<u8>) -> B { todo!() }
                    #[step] async fn b(&self, ctx: &Context<C>, ev: B) -> StopEvent<u8> { todo!() }
                }
            },
        );
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].contains("one state type"));
    }

    #[test]
    fn declared_start_and_stop_are_used() {
        let errors = errors_of(
            quote!(start = Begin, stop = End),
            parse_quote! {
                impl F {
                    #[step] async fn a(&self, ev: Begin) -> End { todo!() }
                }
            },
        );
        assert!(errors.is_empty(), "{errors:?}");
    }
}
