use workflow_core::prelude::*;

// `#[event]` takes no arguments: it adds every derive an event needs.
#[event(Copy)]
struct A;

// `#[data]` marks a type, not a function.
#[data]
fn helper() {}

fn main() {
    let _ = A;
    helper();
}
