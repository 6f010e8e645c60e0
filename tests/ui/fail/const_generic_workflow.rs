use workflow_core::prelude::*;

struct Batch<const N: usize>;

#[workflow]
impl<const N: usize> Batch<N> {
    #[step]
    async fn first(&self, _ev: StartEvent<u32>) -> StopEvent<u32> {
        StopEvent::new(N as u32)
    }
}

fn main() {
    let _ = Batch::<3>.run(1);
}
