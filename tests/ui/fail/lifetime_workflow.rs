use workflow_core::prelude::*;

struct Borrowing<'a> {
    name: &'a str,
}

#[workflow]
impl<'a> Borrowing<'a> {
    #[step]
    async fn first(&self, _ev: StartEvent<u32>) -> StopEvent<u32> {
        StopEvent::new(self.name.len() as u32)
    }
}

#[tokio::main]
async fn main() {
    let name = String::from("x");
    let _ = Borrowing { name: &name }.run(1).await;
}
