//! Stage 4 on its own: a lowered workflow in, tokens out, read back with syn.

use quote::ToTokens;
use syn::parse_quote;

use super::*;
use crate::analyze::analyze;
use crate::identity::resolve;
use crate::internals::Ctxt;
use crate::lower::lower;
use crate::parse::ast::WorkflowDef;
use crate::parse::parse;

/// The definition and IR of a workflow the earlier stages accept.
fn lowered(args: TokenStream, item: syn::ItemImpl) -> (WorkflowDef, Ir) {
    let cx = Ctxt::new();
    let mut def = parse(args, item, &cx);
    def.same_types = resolve(&mut def, &cx);
    let analysis = analyze(&def, &cx);
    cx.check().map_err(|e| e[0].to_string()).unwrap();
    let ir = lower(&def, analysis);
    (def, ir)
}

/// Tokens as text with rustfmt-free spacing: `a :: b`, as quote prints them.
fn text(tokens: &impl ToTokens) -> String {
    tokens.to_token_stream().to_string()
}

/// Asserts that `text` contains every one of `parts`.
fn contains_all(text: &str, parts: &[&str]) {
    for part in parts {
        assert!(text.contains(part), "no `{part}` in:\n{text}");
    }
}

/// The body of the function `name` of an impl, as text.
fn method(tokens: TokenStream, name: &str) -> String {
    let item: syn::ItemImpl = syn::parse2(tokens).expect("an impl");
    item.items
        .iter()
        .find_map(|i| match i {
            syn::ImplItem::Fn(f) if f.sig.ident == name => Some(text(&f.block)),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no fn {name}"))
}

fn rag() -> (WorkflowDef, Ir) {
    lowered(
        quote!(),
        parse_quote! {
            impl Rag {
                #[step] async fn retrieve(&self, ev: StartEvent<Query>) -> Retrieved { todo!() }
                #[step(retry = Backoff::fixed(2, D))]
                async fn audit(&self, ctx: &Context<Notes>, ev: Retrieved) -> Result<Option<Audited>, E> { todo!() }
                #[step] async fn answer(&self, ev: Retrieved) -> Emit<(InputRequired<Ask>, StopEvent<String>)> { todo!() }
                #[step] async fn note(&self, ev: Audited) -> Vec<Retrieved> { todo!() }
                #[step] async fn gather(&self, ev: Collected<Retrieved>) -> Option<Retrieved> { todo!() }
                #[step] async fn reply(&self, ev: HumanResponse<Ask>) -> StopEvent<String> { todo!() }
            }
        },
    )
}

#[test]
fn the_whole_expansion_parses_and_names_the_runtime_only_through_private() {
    let (def, ir) = rag();
    let tokens = codegen(&def.item, &def.step_methods, &def.same_types, &ir);
    let file: syn::File = syn::parse2(tokens.clone()).expect("the expansion is valid Rust");
    assert!(file.items.len() >= 5, "impl, info const, marker, aliases, graph impl, const block");
    let text = tokens.to_string();
    // Public names a user could also write are allowed; everything else of
    // the runtime goes through `__private`.
    let mut rest = text.as_str();
    while let Some(at) = rest.find(":: workflow_core ::") {
        let after = &rest[at + ":: workflow_core ::".len()..];
        let name = after.split_whitespace().next().unwrap();
        assert!(["__private", "Context", "StartEvent"].contains(&name), "`::workflow_core::{name}`");
        rest = after;
    }
    for banned in ["TypeId", "HashMap", "dyn Any", "Any >"] {
        assert!(!text.contains(banned), "`{banned}` on the event path");
    }
}

#[test]
fn membership_is_a_match_on_variant_and_step_index() {
    let (_, ir) = rag();
    let tokens = workflow_event_impl(&ir);
    let accepted_by = method(tokens.clone(), "accepted_by");
    // `Retrieved` goes to audit (1) and answer (2); the collector takes it
    // through its batch, not as its own input.
    assert!(accepted_by.contains("(RagEvent :: Retrieved (_) , 1usize | 2usize) => true"), "{accepted_by}");
    assert!(accepted_by.ends_with("_ => false } }"), "{accepted_by}");
    let sent_by = method(tokens.clone(), "sent_by");
    assert!(sent_by.contains("(RagEvent :: Retrieved (_) , 0usize | 3usize | 4usize) => true"), "{sent_by}");
    let index = method(tokens.clone(), "index");
    assert!(index.contains("RagEvent :: Audited (_) => 2usize"), "{index}");
    let step_failed = method(tokens, "step_failed");
    assert!(step_failed.contains("None"), "no step consumes StepFailed: {step_failed}");
}

#[test]
fn the_route_table_sends_each_event_to_its_steps_and_output_unwraps_the_stop_event() {
    let (_, ir) = rag();
    let output = method(workflow_impl(&ir), "output");
    assert!(
        output.contains(
            "RagEvent :: StopEvent (event) => :: core :: option :: Option :: Some (event . result)"
        ),
        "{output}"
    );
    let routes = info(&ir).to_string();
    assert!(
        routes.contains(
            "steps : & [1usize , 2usize] , collectors : & [4usize] , request : false , stop : false"
        ),
        "Retrieved: two steps and the collector: {routes}"
    );
    assert!(
        routes.contains("Route { steps : & [] , collectors : & [] , request : true , stop : false"),
        "a request goes to the caller: {routes}"
    );
    assert!(
        routes.contains("Route { steps : & [] , collectors : & [] , request : false , stop : true"),
        "the stop event ends the run: {routes}"
    );
    let retry = method(workflow_impl(&ir), "retry_policy");
    assert!(
        retry.contains("1usize => :: core :: option :: Option :: Some (:: workflow_core :: __private :: retry_policy (Backoff :: fixed (2 , D)))"),
        "{retry}"
    );
}

#[test]
fn a_step_call_unpacks_its_input_boxes_its_error_and_wraps_what_it_returns() {
    let (_, ir) = rag();
    let call = |i: usize| text(&step_call(&ir, i, &ir.steps[i]));
    contains_all(
        &call(1),
        &[
            "StepInput :: One (RagEvent :: Retrieved (event)) => event",
            "< Rag > :: audit (& * self , & context , event) . await",
            "Err (:: workflow_core :: __private :: box_error (error))",
            "Option :: None => :: workflow_core :: __private :: Emitted :: Nothing",
        ],
    );
    // A foreign event in a collected input is a routing error, not a panic.
    contains_all(&call(4), &["StepInput :: Collected (events)", "_ => return misrouted ()"]);
    contains_all(&call(3), &["Emitted :: Many"]);
    contains_all(
        &call(2),
        &[
            "Choice2 :: V0 (e) => RagEvent :: InputRequired (e)",
            "Choice2 :: V1 (e) => RagEvent :: StopEvent (e)",
        ],
    );
}

#[test]
fn info_lists_the_graph_with_answers_requests_and_fan_in() {
    let (_, ir) = rag();
    contains_all(
        &text(&info(&ir)),
        &[
            "name : \"Rag\"",
            "answers : & [\"HumanResponse<Ask>\"]",
            "requests : & [\"InputRequired<Ask>\"]",
            "name : \"note\" , accepts : & [\"Audited\"] , emits : & [\"Retrieved\"]",
            // note's fan-out feeds gather
            "fan_in : & [4usize]",
        ],
    );
}

#[test]
fn step_contexts_get_the_event_type_and_other_methods_are_left_alone() {
    let mut item: syn::ItemImpl = parse_quote! {
        impl Flow {
            async fn a(&self, ctx: &Context<S>, ev: X) -> Y { todo!() }
            async fn b(&self, ctx: &Context, ev: X) -> Y { todo!() }
            fn helper(&self, ctx: &Context<S>) {}
        }
    };
    let steps: Vec<syn::Ident> = vec![parse_quote!(a), parse_quote!(b)];
    rewrite_contexts(&mut item, &steps, &parse_quote!(FlowEvent));
    let text = text(&item);
    assert!(text.contains("ctx : & :: workflow_core :: Context < S , FlowEvent >"), "{text}");
    assert!(text.contains("ctx : & :: workflow_core :: Context < () , FlowEvent >"), "{text}");
    assert!(text.contains("fn helper (& self , ctx : & Context < S >)"), "{text}");
}

#[test]
fn generics_get_send_sync_static_and_each_registered_instantiation_is_named() {
    let (def, ir) = lowered(
        quote!(register = [Search<Bm25>, Search<Dense>]),
        parse_quote! {
            impl<R: Retriever> Search<R> {
                #[step] async fn run(&self, ev: StartEvent<String>) -> StopEvent<String> { todo!() }
            }
        },
    );
    let (impl_generics, where_clause) = workflow_generics(&ir.generics);
    assert_eq!(text(&impl_generics), "< R : Retriever >");
    assert_eq!(
        text(&where_clause),
        "where R : :: core :: marker :: Send + :: core :: marker :: Sync + 'static"
    );
    let tokens = codegen(&def.item, &def.step_methods, &def.same_types, &ir).to_string();
    assert_eq!(tokens.matches("inventory :: submit !").count(), 2, "{tokens}");
    assert!(tokens.contains(". named (\"Search<Bm25>\")"), "{tokens}");
    assert!(tokens.contains(". named (\"Search<Dense>\")"), "{tokens}");
}

#[test]
fn two_spellings_of_one_type_are_checked_by_rustc_and_none_cost_nothing() {
    assert!(same_types(&[]).is_empty());
    let check = same_types(&[(parse_quote!(Found), parse_quote!(crate::Found))]).to_string();
    assert!(
        check.contains("let _ : :: core :: marker :: PhantomData < Found > = :: core :: marker :: PhantomData :: < crate :: Found >"),
        "{check}"
    );
}
