"""LlamaIndex's own Python client (llama-agents-client 0.4.1) against our
Rust server: every call goes through WorkflowClient."""

import asyncio

import httpx
import pytest
from llama_agents.client import WorkflowClient
from workflows.events import Event, StartEvent


class InputEvent(StartEvent):
    greeting: str
    name: str


class Answered(Event):
    answer: str


def run(coroutine):
    return asyncio.run(coroutine)


def test_list_schema_events_and_representation(base_url):
    async def go():
        client = WorkflowClient(base_url=base_url)
        assert (await client.is_healthy()).status == "healthy"
        names = (await client.list_workflows()).workflows
        assert names[:3] == ["greeting", "crashing", "hitl"]
        schema = await client.get_workflow_schema("greeting")
        assert schema.start["title"] == "InputEvent"
        assert set(schema.start["properties"]) == {"greeting", "name"}
        assert schema.stop["title"] == "OutputEvent"
        events = await client.get_workflow_events_schema("greeting")
        titles = [e["title"] for e in events.events]
        assert titles == ["InputEvent", "GreetEvent", "OutputEvent"]
        graph = (await client.get_workflow_graph("hitl")).graph
        ids = {node.id: node for node in graph.nodes}
        assert ids["ask"].node_type == "step"
        assert ids["external_step"].node_type == "external"
        edges = {(e.source, e.target) for e in graph.edges}
        assert ("StartEvent", "ask") in edges and ("Asked", "external_step") in edges
        assert ("external_step", "Answered") in edges

    run(go())


def test_run_a_typed_start_event_to_a_typed_stop_event(base_url):
    async def go():
        client = WorkflowClient(base_url=base_url)
        handler = await client.run_workflow("greeting", start_event=InputEvent(greeting="hello", name="Ada"))
        assert handler.status == "completed"
        assert handler.workflow_name == "greeting"
        assert handler.error is None
        assert handler.result.type == "OutputEvent"
        assert handler.result.types == ["StopEvent"]
        assert handler.result.value == {"greeting": "hello Ada!!"}
        again = await client.get_handler(handler.handler_id)
        assert again.status == "completed" and again.result.value == handler.result.value

    run(go())


def test_run_nowait_then_stream_every_event_in_order(base_url):
    async def go():
        client = WorkflowClient(base_url=base_url)
        handler = await client.run_workflow_nowait("ticker", start_event=StartEvent(input=5))
        assert handler.status == "running"
        seen = [event async for event in client.get_workflow_events(handler.handler_id)]
        ticks = [e.value["n"] for e in seen if e.type == "Tick"]
        assert ticks == [0, 1, 2, 3, 4]
        assert seen[-1].type == "StopEvent" and seen[-1].value == {"result": 5}
        done = await client.wait_for_handler(handler.handler_id, timeout=10, poll_interval=0.05)
        assert done.status == "completed"

    run(go())


class DropOnce(httpx.AsyncBaseTransport):
    """Closes the first event stream after two events, as a broken
    connection would; the client must reconnect from the last id."""

    def __init__(self):
        self.inner = httpx.AsyncHTTPTransport()
        self.dropped = False
        self.requests = []

    async def handle_async_request(self, request):
        response = await self.inner.handle_async_request(request)
        if not request.url.path.startswith("/events/"):
            return response
        self.requests.append(str(request.url))
        if self.dropped:
            return response
        self.dropped = True
        inner = response.stream

        class Breaking(httpx.AsyncByteStream):
            async def __aiter__(self):
                seen = 0
                async for chunk in inner:
                    yield chunk
                    seen += chunk.count(b"data:")
                    if seen >= 2:
                        raise httpx.ReadError("connection closed mid-stream")

            async def aclose(self):
                await inner.aclose()

        return httpx.Response(response.status_code, headers=response.headers, stream=Breaking(), request=request)

    async def aclose(self):
        await self.inner.aclose()


def test_a_dropped_stream_reconnects_from_the_last_id(base_url):
    async def go():
        transport = DropOnce()
        async with httpx.AsyncClient(base_url=base_url, transport=transport) as http:
            client = WorkflowClient(httpx_client=http)
            handler = await client.run_workflow_nowait("ticker", start_event=StartEvent(input=8))
            stream = client.get_workflow_events(handler.handler_id)
            seen = [event async for event in stream]
        ticks = [e.value["n"] for e in seen if e.type == "Tick"]
        assert ticks == list(range(8)), "every event once, in order, across the reconnection"
        assert transport.dropped and len(transport.requests) == 2
        assert "after_sequence=-1" in transport.requests[0]
        assert "after_sequence=-1" not in transport.requests[1], "the second request resumes after the last id"

    run(go())


def test_answer_an_input_request(base_url):
    async def go():
        client = WorkflowClient(base_url=base_url)
        handler = await client.run_workflow_nowait("hitl", start_event=StartEvent(input="Rust"))
        async for event in client.get_workflow_events(handler.handler_id):
            if event.types and "InputRequiredEvent" in event.types:
                assert event.type == "Asked"
                assert event.value == {"question": "What do you think of Rust?"}
                sent = await client.send_event(handler.handler_id, Answered(answer="great"))
                assert sent.status == "sent"
        done = await client.get_handler(handler.handler_id)
        assert done.status == "completed"
        assert done.result.value == {"result": "you said: great"}

    run(go())


def test_cancel_then_purge(base_url):
    async def go():
        client = WorkflowClient(base_url=base_url)
        handler = await client.run_workflow_nowait("sleeper", start_event=StartEvent(input=10_000))
        cancelled = await client.cancel_handler(handler.handler_id)
        assert cancelled.status == "cancelled"
        listed = await client.get_handlers(status=["cancelled"])
        assert handler.handler_id in [h.handler_id for h in listed.handlers]
        with pytest.raises(httpx.HTTPStatusError) as error:
            await client.get_handler(handler.handler_id)
        assert error.value.response.status_code == 500
        assert error.value.response.json()["status"] == "cancelled"
        purged = await client.cancel_handler(handler.handler_id, purge=True)
        assert purged.status == "deleted"
        with pytest.raises(httpx.HTTPStatusError) as error:
            await client.get_handler(handler.handler_id)
        assert error.value.response.status_code == 404

    run(go())


def test_handler_filters(base_url):
    async def go():
        client = WorkflowClient(base_url=base_url)
        await client.run_workflow("greeting", start_event=InputEvent(greeting="hi", name="Bo"))
        greetings = (await client.get_handlers(workflow_name=["greeting"])).handlers
        assert greetings and all(h.workflow_name == "greeting" for h in greetings)
        completed = (await client.get_handlers(status=["completed"], workflow_name=["greeting", "ticker"])).handlers
        assert completed and all(h.status == "completed" for h in completed)
        assert all(h.workflow_name in ("greeting", "ticker") for h in completed)

    run(go())


def test_a_failing_run(base_url):
    async def go():
        client = WorkflowClient(base_url=base_url)
        with pytest.raises(httpx.HTTPStatusError) as error:
            await client.run_workflow("crashing")
        assert error.value.response.status_code == 500
        body = error.value.response.json()
        assert body["status"] == "failed"
        assert "the disk is full" in body["error"]
        stream = client.get_workflow_events(body["handler_id"])
        events = [event async for event in stream]
        assert events[-1].type == "WorkflowFailedEvent"
        assert events[-1].value["exception"]["exception_message"] == "the disk is full"

    run(go())


def test_a_timed_out_run(base_url):
    async def go():
        client = WorkflowClient(base_url=base_url)
        with pytest.raises(httpx.HTTPStatusError) as error:
            await client.run_workflow("slow", start_event=StartEvent(input=5_000))
        body = error.value.response.json()
        assert (body["status"], body["error"]) == ("failed", "Workflow timed out after 0.5s")

    run(go())
