use workflow_core::prelude::*;

#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct Request {
    n: u32,
}
#[derive(Event, Clone, Debug, Serialize, Deserialize, PartialEq, JsonSchema)]
struct Response {
    n: u32,
}

struct Echo;

#[workflow(start = Request, stop = Response)]
impl Echo {
    #[step]
    async fn echo(&self, ev: Request) -> Response {
        Response { n: ev.n }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    assert_eq!(Echo.run(Request { n: 7 }).await.unwrap(), Response { n: 7 });
}
