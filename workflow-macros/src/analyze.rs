//! Stage 2: prove the event graph sound (DESIGN.md §2), collecting every error.
//!
//! Each check reports only what the earlier checks did not already explain,
//! so one mistake gives one error: a step whose event nobody emits is reported
//! as `unproduced`, not also as unreachable.

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

pub fn analyze(def: &WorkflowDef, cx: &Ctxt) -> Option<Analysis> {
    let state = state_type(def, cx);
    if def.incomplete || def.steps.is_empty() {
        return None; // the signature errors already say what is wrong
    }
    let graph = Graph { def };
    let start = graph.start(cx);
    let stop = graph.stop(cx);
    graph.unconsumed(stop.as_ref(), cx);
    graph.unproduced(start.as_ref(), stop.as_ref(), cx);
    let reachable = start.as_ref().map(|start| graph.reachable(start, stop.as_ref(), cx));
    if let Some(stop) = &stop {
        graph.dead_ends(stop, reachable.as_deref(), cx);
    }
    Some(Analysis { start, stop, state })
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

    fn producers(&self, event: &EventTy) -> impl Iterator<Item = &'a Step> + '_ {
        let event = event.clone();
        self.steps().iter().filter(move |s| s.output.shape.events().contains(&event))
    }

    fn has_consumer(&self, event: &EventTy) -> bool {
        self.steps().iter().any(|s| s.event == *event)
    }

    /// Check 1: exactly one start event type, consumed by some step.
    fn start(&self, cx: &Ctxt) -> Option<EventTy> {
        let declared = self.def.args.start.clone();
        let consumed = self.steps().iter().filter(|s| s.event.is_wrapper_named("StartEvent"));
        let start = self.unique(declared, consumed.map(|s| (&s.event, s)), "start", "takes", cx);
        match &start {
            None => cx.error_spanned_by(
                &self.def.item.self_ty,
                format!(
                    "workflow `{}` has no start: no step consumes a start event; add a step that takes \
                     `ev: StartEvent<Input>`, or declare your own with `#[workflow(start = MyEvent)]`",
                    self.def.name
                ),
            ),
            Some(start) if !self.has_consumer(start) => cx.error_spanned_by(
                &start.ty,
                format!(
                    "no step consumes the start event `{}`; add a step that takes `ev: {}`",
                    start.key, start.key
                ),
            ),
            _ => {}
        }
        start
    }

    /// Check 2: exactly one stop event type, emitted by some step, consumed by none.
    fn stop(&self, cx: &Ctxt) -> Option<EventTy> {
        let declared = self.def.args.stop.clone();
        let emitted = self.steps().iter().flat_map(|s| {
            s.output.shape.events().iter().filter(|e| e.is_wrapper_named("StopEvent")).map(move |e| (e, s))
        });
        let stop = self.unique(declared, emitted, "stop", "emits", cx);
        match &stop {
            None => cx.error_spanned_by(
                &self.def.item.self_ty,
                format!(
                    "workflow `{}` never stops: no step emits a stop event; add `StopEvent<Output>` to the \
                     return type of the step that finishes, as in `-> StopEvent<Output>`",
                    self.def.name
                ),
            ),
            Some(stop) => {
                if self.producers(stop).next().is_none() {
                    cx.error_spanned_by(
                        &stop.ty,
                        format!(
                            "no step emits the stop event `{}`; return it from the step that finishes",
                            stop.key
                        ),
                    );
                }
                for step in self.steps().iter().filter(|s| s.event == *stop) {
                    cx.error_spanned_by(
                        &step.event.ty,
                        format!(
                            "step `{}` consumes the stop event `{}`, but the stop event ends the run and is \
                             never delivered; have the step before it emit another event for `{}` to consume",
                            step.ident, stop.key, step.ident
                        ),
                    );
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
                Some(c) => cx.error_spanned_by(
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
                ),
            }
        }
        chosen
    }

    /// Check 3: every emitted event has a consumer.
    fn unconsumed(&self, stop: Option<&EventTy>, cx: &Ctxt) {
        for step in self.steps() {
            for event in step.output.shape.events() {
                if Some(event) == stop || self.has_consumer(event) || self.skipped(step, Check::Unconsumed) {
                    continue;
                }
                if event.is_wrapper_named("StopEvent") {
                    continue; // a second stop type, already reported
                }
                cx.error_spanned_by(
                    &event.ty,
                    format!(
                        "`{}` is emitted by step `{}` but no step consumes it; add a step that takes \
                         `ev: {}`, or stop emitting it (skip this check with `#[step(skip = [unconsumed])]`)",
                        event.key, step.ident, event.key
                    ),
                );
            }
        }
    }

    /// Check 4: every consumed event is emitted by some step, or is the start event.
    fn unproduced(&self, start: Option<&EventTy>, stop: Option<&EventTy>, cx: &Ctxt) {
        for step in self.steps() {
            let event = &step.event;
            if Some(event) == start
                || Some(event) == stop
                || event.is_wrapper_named("StartEvent")
                || self.producers(event).next().is_some()
                || self.skipped(step, Check::Unproduced)
            {
                continue;
            }
            cx.error_spanned_by(
                &event.ty,
                format!(
                    "step `{}` consumes `{}` but no step emits it, so it can never run; emit `{}` from \
                     another step's return type, or remove this step",
                    step.ident, event.key, event.key
                ),
            );
        }
    }

    /// Check 5: every step can be reached from the start event. Returns, per
    /// step, whether it is reachable.
    fn reachable(&self, start: &EventTy, stop: Option<&EventTy>, cx: &Ctxt) -> Vec<bool> {
        let steps = self.steps();
        let mut events = vec![start.clone()];
        let mut reached = vec![false; steps.len()];
        let mut changed = true;
        while changed {
            changed = false;
            for (i, step) in steps.iter().enumerate() {
                if !reached[i] && events.contains(&step.event) {
                    reached[i] = true;
                    changed = true;
                    events.extend(step.output.shape.events().iter().cloned());
                }
            }
        }
        for (i, step) in steps.iter().enumerate() {
            let explained = Some(&step.event) == stop || self.producers(&step.event).next().is_none();
            if reached[i] || explained || self.skipped(step, Check::Reachability) {
                continue;
            }
            let producers: Vec<_> = self.producers(&step.event).map(|s| format!("`{}`", s.ident)).collect();
            cx.error_spanned_by(
                &step.ident,
                format!(
                    "step `{}` can never run: its event `{}` is emitted only by {}, which the start event \
                     never reaches; connect them to the start event or remove them",
                    step.ident,
                    step.event.key,
                    producers.join(", ")
                ),
            );
        }
        reached
    }

    /// Check 6: from every step, some path leads to the stop event.
    fn dead_ends(&self, stop: &EventTy, reachable: Option<&[bool]>, cx: &Ctxt) {
        let steps = self.steps();
        let mut leads = vec![false; steps.len()];
        let mut good = vec![stop.clone()];
        let mut changed = true;
        while changed {
            changed = false;
            for (i, step) in steps.iter().enumerate() {
                if !leads[i] && step.output.shape.events().iter().any(|e| good.contains(e)) {
                    leads[i] = true;
                    changed = true;
                    good.push(step.event.clone());
                }
            }
        }
        for (i, step) in steps.iter().enumerate() {
            let unreachable = reachable.is_some_and(|r| !r[i]);
            let leaks = step.output.shape.events().iter().any(|e| !self.has_consumer(e) && e != stop);
            if leads[i] || unreachable || leaks || self.skipped(step, Check::DeadEnd) {
                continue;
            }
            let emits: Vec<_> = step.output.shape.events().iter().map(|e| format!("`{}`", e.key)).collect();
            cx.error_spanned_by(
                &step.ident,
                format!(
                    "step `{}` can never lead to the stop event: what it emits ({}) only reaches steps that \
                     never emit `{}`; give this loop a way out, e.g. `-> Emit<({}, {})>`",
                    step.ident,
                    emits.join(", "),
                    stop.key,
                    step.output.shape.events()[0].key,
                    stop.key
                ),
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
        analyze(&def, &cx);
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
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].contains("`Lost` is emitted by step `a` but no step consumes it"));
        assert!(errors[1].contains("consumes `Orphan` but no step emits it"));
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
