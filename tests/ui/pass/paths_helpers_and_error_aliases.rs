use workflow_core::prelude::*;

mod events {
    use workflow_core::prelude::*;

    #[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
    pub struct Parsed(pub u32);
}

/// A `Result` alias, as `anyhow::Result` or `std::io::Result`: the macro
/// recognises fallible steps by the name `Result`.
mod fallible {
    pub type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;
}

struct Parse {
    offset: u32,
}

#[workflow]
impl Parse {
    /// An ordinary method beside the steps.
    fn offset(&self) -> u32 {
        self.offset
    }

    #[step]
    async fn parse(&self, ev: StartEvent<String>) -> fallible::Result<crate::events::Parsed> {
        Ok(events::Parsed(ev.input.parse::<u32>()?))
    }

    #[step]
    async fn add(&self, ev: events::Parsed) -> StopEvent<u32> {
        StopEvent::new(ev.0 + self.offset())
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    assert_eq!(Parse { offset: 1 }.run("41".into()).await.unwrap(), 42);
    assert!(Parse { offset: 1 }.run("x".into()).await.is_err());
}
