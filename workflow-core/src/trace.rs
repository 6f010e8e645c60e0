//! What a run did, drawn on its graph: how often each edge was taken.

use std::sync::{Arc, Mutex};

use crate::contract::{StepId, WorkflowInfo};
use crate::sync::lock;

/// Counts of a run's deliveries, per (step, event type): fixed-size tables,
/// so a long run costs no more memory than a short one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunTrace {
    events: usize,
    /// How many invocations each step started.
    pub invocations: Vec<u64>,
    consumed: Vec<u64>,
    emitted: Vec<u64>,
    streamed: Vec<u64>,
}

impl RunTrace {
    pub(crate) fn new(info: &WorkflowInfo) -> Self {
        let (steps, events) = (info.steps.len(), info.events.len());
        let table = || vec![0; steps * events];
        Self { events, invocations: vec![0; steps], consumed: table(), emitted: table(), streamed: table() }
    }

    pub(crate) fn consumed(&mut self, step: StepId, event: usize) {
        self.consumed[step * self.events + event] += 1;
    }

    pub(crate) fn emitted(&mut self, step: StepId, event: usize) {
        self.emitted[step * self.events + event] += 1;
    }

    pub(crate) fn streamed(&mut self, step: StepId, event: usize) {
        self.streamed[step * self.events + event] += 1;
    }

    /// How often each node of `info.graph()` ran, by node index: 0 for
    /// each event, then each step's invocations (the graph's steps come
    /// after its events; the nodes after them count nothing).
    pub fn counts(&self, info: &WorkflowInfo) -> Vec<u64> {
        std::iter::repeat_n(0, info.events.len()).chain(self.invocations.iter().copied()).collect()
    }

    /// How often each edge of `info.graph()` was taken, in the graph's edge order.
    pub fn marks(&self, info: &WorkflowInfo) -> Vec<u64> {
        let graph = info.graph();
        let (events, steps) = (info.events.len(), info.steps.len());
        let step_of = |node: usize| (node >= events && node < events + steps).then(|| node - events);
        graph
            .edges
            .iter()
            .map(|edge| match (step_of(edge.from), step_of(edge.to)) {
                (None, Some(step)) if edge.from < events => self.consumed[step * events + edge.from],
                (Some(step), None) if edge.to < events => match edge.kind {
                    workflow_graph::EdgeKind::Flow | workflow_graph::EdgeKind::FanOut => {
                        self.emitted[step * events + edge.to]
                    }
                    workflow_graph::EdgeKind::Stream => self.streamed[step * events + edge.to],
                    // A child is no event: its edge ends past them; the others go into steps.
                    _ => 0,
                },
                // An event to the caller: every write of it to the stream.
                (None, None) if edge.from < events => {
                    (0..steps).map(|s| self.streamed[s * events + edge.from]).sum()
                }
                _ => 0,
            })
            .collect()
    }
}

/// A handle on the trace of one run, filled in when the run ends; get it
/// with [`Handler::trace`](crate::Handler::trace).
#[derive(Clone, Debug)]
pub struct Trace {
    info: &'static WorkflowInfo,
    slot: Arc<Mutex<Option<Box<RunTrace>>>>,
}

impl Trace {
    pub(crate) fn new(info: &'static WorkflowInfo) -> Self {
        Self { info, slot: Arc::new(Mutex::new(None)) }
    }

    pub(crate) fn record(&self, trace: Box<RunTrace>) {
        *lock(&self.slot) = Some(trace);
    }

    /// The counts, once the run has ended (`None` before, or if the run
    /// was not started with `RunOptions::trace(true)`).
    pub fn get(&self) -> Option<RunTrace> {
        lock(&self.slot).as_deref().cloned()
    }

    /// The run's path as a mermaid flowchart: edges taken are thick and
    /// labelled with how often, once the run has ended.
    pub fn mermaid(&self) -> Option<String> {
        let trace = self.get()?;
        Some(self.info.graph().mermaid_traced(&trace.marks(self.info), &trace.counts(self.info)))
    }

    /// The run's path as an SVG element, once the run has ended.
    pub fn svg(&self) -> Option<String> {
        let trace = self.get()?;
        Some(self.info.graph().svg_traced(&trace.marks(self.info), &trace.counts(self.info)))
    }
}
