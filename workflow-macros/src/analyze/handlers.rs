//! The failure handlers' wiring: each step's failures go to at most one
//! handler, and every name in a `for_steps` is a step that is not a handler.

use crate::internals::suggest::did_you_mean;
use crate::internals::Ctxt;
use crate::parse::ast::{Step, WorkflowDef};

/// Each step's failures go to at most one handler (a step that takes
/// `StepFailed`): the one whose `for_steps` names it, else the one without
/// `for_steps`. Reports arguments on a step that is no handler, unknown
/// names, handlers named as covered, a step two handlers cover, and two
/// handlers that both cover every step.
pub(super) fn failure_handlers(def: &WorkflowDef, cx: &Ctxt) {
    let names = || def.steps.iter().map(|s| s.name.as_str());
    let mut covered: Vec<(&str, &Step)> = Vec::new();
    let mut catch_all: Option<&Step> = None;
    for step in &def.steps {
        if !step.is_failure_handler() {
            if let Some(list) = &step.for_steps {
                let at = list.first().unwrap_or(&step.ident);
                cx.error_spanned_by(
                    at,
                    format!(
                        "`for_steps` is for failure handlers, and step `{}` does not take `StepFailed`",
                        step.name
                    ),
                );
            }
            if let Some(lit) = &step.max_recoveries {
                cx.error_spanned_by(
                    lit,
                    format!(
                        "`max_recoveries` is for failure handlers, and step `{}` does not take `StepFailed`",
                        step.name
                    ),
                );
            }
            continue;
        }
        let Some(list) = &step.for_steps else {
            match catch_all {
                Some(first) => cx.error_spanned_by(
                    &step.ident,
                    format!(
                        "`{}` and `{}` both handle every step's failures; each failure goes to one handler: \
                         give one of them `for_steps = [step, ..]`",
                        step.name, first.name
                    ),
                ),
                None => catch_all = Some(step),
            }
            continue;
        };
        if list.is_empty() {
            cx.error_spanned_by(&step.ident, format!("`for_steps` of `{}` lists no step", step.name));
        }
        for name in list {
            let name_str = syn::ext::IdentExt::unraw(name).to_string();
            let Some(target) = def.steps.iter().find(|s| s.name == name_str) else {
                cx.error_spanned_by(
                    name,
                    format!(
                        "no step named `{name_str}`{}; `for_steps` lists the steps whose failures `{}` handles",
                        did_you_mean(&name_str, names()),
                        step.name
                    ),
                );
                continue;
            };
            if target.is_failure_handler() {
                cx.error_spanned_by(
                    name,
                    format!(
                        "`{name_str}` handles failures itself: a handler does not cover a handler \
                         (a failing handler ends the run)"
                    ),
                );
                continue;
            }
            match covered.iter().find(|(n, _)| *n == target.name) {
                Some((_, first)) => cx.error_spanned_by(
                    name,
                    format!(
                        "`{name_str}` is covered by `{}` already; each failure goes to one handler: \
                         remove it from one of the two `for_steps`",
                        first.name
                    ),
                ),
                None => covered.push((target.name.as_str(), step)),
            }
        }
    }
}
