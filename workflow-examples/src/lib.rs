//! Runnable examples of the workflow framework, from LlamaIndex's classics.
//!
//! - [`rag`]: retrieve → rerank → synthesize over the text files in `corpus/`,
//!   with a BM25 retriever and an extractive synthesizer; offline, no API key.
//! - [`router`]: query routing, a simple and a complex branch.
//! - [`refine`]: a self-correcting loop with a counter guard in the context.
//! - [`aggregator`]: three sources searched in parallel, then merged (fan-out, fan-in).
//! - [`progress`]: a workflow that streams its progress to the caller.
//! - [`approval`]: a person approves a refund from the terminal (human in the loop).
//! - [`fallback`]: a flaky rate service, retried, then the cached rate
//!   through a scoped failure handler (fallback on error).
//! - [`research`]: a research agent that runs a child search workflow per
//!   sub-question, in parallel, and merges their findings.
//!
//! Run them with `cargo run -p workflow-examples --example rag -- "your question"`
//! (or `router`, `refine`, `aggregator`, `progress`, `approval`, `fallback`, `research`).

pub mod aggregator;
pub mod approval;
pub mod corpus;
pub mod fallback;
pub mod progress;
pub mod rag;
pub mod refine;
pub mod research;
pub mod router;
mod text;

/// Does nothing; a binary calls it so that the linker keeps this crate, and
/// with it the registrations of its workflows (see `workflow_core::registry`).
pub fn link() {}
