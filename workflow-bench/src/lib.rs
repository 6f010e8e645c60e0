//! The six benchmark scenarios, each twice: on the workflow runtime, and
//! written by hand with plain tokio (an enum, a queue and a `match`: the
//! floor). Steps are trivial, so what is measured is the cost of routing.
//!
//! Each function runs a scenario at size `n` and returns how many events it
//! routed, so that callers can report a cost per event.

pub mod floor;
pub mod flows;

/// A scenario of the benchmark.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    /// A 10-step line, Start → E1 → … → E9 → Stop, run n times one after another.
    Chain,
    /// One step re-emitting its own event n times, then stopping.
    Loop,
    /// One step sends n events, a step with 8 workers handles each, a collector gathers all n.
    Fanout,
    /// n runs of the chain at once.
    Concurrent,
    /// One step writes n events to the stream; the caller consumes them.
    Stream,
    /// n hops, each setting and then reading a value in the context's store.
    State,
}

impl Scenario {
    pub const ALL: [Scenario; 6] = [
        Scenario::Chain,
        Scenario::Loop,
        Scenario::Fanout,
        Scenario::Concurrent,
        Scenario::Stream,
        Scenario::State,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Scenario::Chain => "chain",
            Scenario::Loop => "loop",
            Scenario::Fanout => "fanout",
            Scenario::Concurrent => "concurrent",
            Scenario::Stream => "stream",
            Scenario::State => "state",
        }
    }

    pub fn parse(name: &str) -> Option<Scenario> {
        Scenario::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Runs the scenario on the workflow runtime; the number of events routed.
    pub async fn framework(self, n: u64) -> u64 {
        match self {
            Scenario::Chain => flows::chain(n).await,
            Scenario::Loop => flows::spin(n).await,
            Scenario::Fanout => flows::fanout(n).await,
            Scenario::Concurrent => flows::concurrent(n).await,
            Scenario::Stream => flows::stream(n).await,
            Scenario::State => flows::state(n).await,
        }
    }

    /// Runs the scenario written by hand; the number of events routed.
    pub async fn floor(self, n: u64) -> u64 {
        match self {
            Scenario::Chain => floor::chain(n).await,
            Scenario::Loop => floor::spin(n).await,
            Scenario::Fanout => floor::fanout(n).await,
            Scenario::Concurrent => floor::concurrent(n).await,
            Scenario::Stream => floor::stream(n).await,
            Scenario::State => floor::state(n).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both sides of every scenario route the same number of events.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn framework_and_floor_agree_on_every_scenario() {
        for scenario in Scenario::ALL {
            for n in [1, 10, 100] {
                assert_eq!(scenario.framework(n).await, scenario.floor(n).await, "{scenario:?} n={n}");
            }
        }
    }
}
