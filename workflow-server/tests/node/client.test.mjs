// LlamaIndex's TypeScript client (@llamaindex/workflows-client 1.8.5)
// against our Rust server: run, stream and send, through the client only.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import {
  createClient,
  createConfig,
  getEventsByHandlerId,
  getResultsByHandlerId,
  getWorkflows,
  postEventsByHandlerId,
  postWorkflowsByNameRun,
  postWorkflowsByNameRunNowait,
} from "@llamaindex/workflows-client";

let server;
let client;

before(async () => {
  server = spawn(process.env.WORKFLOW_SERVER_FIXTURE, ["127.0.0.1:0"], { stdio: ["ignore", "pipe", "inherit"] });
  const lines = createInterface({ input: server.stdout });
  const url = await new Promise((resolve, reject) => {
    lines.on("line", (line) => {
      const found = line.match(/listening on (http:\/\/\S+)/);
      if (found) resolve(found[1]);
    });
    server.on("exit", (code) => reject(new Error(`the server exited with ${code}`)));
  });
  client = createClient(createConfig({ baseUrl: url }));
});

after(() => server.kill());

async function collect(handlerId, until) {
  const { stream } = await getEventsByHandlerId({ client, path: { handler_id: handlerId }, query: { sse: true, after_sequence: -1 } });
  const seen = [];
  for await (const event of stream) {
    seen.push(event);
    if (until && until(event)) break;
  }
  return seen;
}

test("lists the workflows and runs one to its typed stop event", async () => {
  const { data: list } = await getWorkflows({ client });
  assert.deepEqual(list.workflows.slice(0, 3), ["greeting", "crashing", "hitl"]);
  const { data, response } = await postWorkflowsByNameRun({
    client,
    path: { name: "greeting" },
    body: { start_event: { greeting: "hello", name: "Ada" } },
  });
  assert.equal(response.status, 200);
  assert.equal(data.status, "completed");
  assert.equal(data.result.type, "OutputEvent");
  assert.deepEqual(data.result.types, ["StopEvent"]);
  assert.deepEqual(data.result.value, { greeting: "hello Ada!!" });
});

test("streams every event of a run in order, to its stop event", async () => {
  const { data: handler } = await postWorkflowsByNameRunNowait({ client, path: { name: "ticker" }, body: { start_event: { input: 4 } } });
  const events = await collect(handler.handler_id);
  assert.deepEqual(events.filter((e) => e.type === "Tick").map((e) => e.value.n), [0, 1, 2, 3]);
  assert.equal(events.at(-1).type, "StopEvent");
  assert.deepEqual(events.at(-1).value, { result: 4 });
});

test("answers an input request, then reads the bare result", async () => {
  const { data: handler } = await postWorkflowsByNameRunNowait({ client, path: { name: "hitl" }, body: { start_event: { input: "Rust" } } });
  const asked = await collect(handler.handler_id, (e) => (e.types ?? []).includes("InputRequiredEvent"));
  assert.equal(asked.at(-1).type, "Asked");
  const { data: sent } = await postEventsByHandlerId({
    client,
    path: { handler_id: handler.handler_id },
    body: { event: { type: "Answered", value: { answer: "great" } } },
  });
  assert.equal(sent.status, "sent");
  let result;
  for (let i = 0; i < 200; i++) {
    const { data, response } = await getResultsByHandlerId({ client, path: { handler_id: handler.handler_id } });
    if (response.status === 200) {
      result = data;
      break;
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.equal(result.status, "completed");
  assert.equal(result.result, "you said: great");
});
