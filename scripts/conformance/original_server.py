"""LlamaIndex's own server (llama-agents-server 0.8.0) with Python
workflows equivalent to the Rust protocol_fixture's: the conformance
script's reference. Usage: python original_server.py PORT"""

import asyncio
import sys

from llama_agents.server import WorkflowServer
from workflows import Context, Workflow, step
from workflows.events import Event, HumanResponseEvent, InputRequiredEvent, StartEvent, StopEvent


class InputEvent(StartEvent):
    greeting: str
    name: str


class GreetEvent(Event):
    greeting: str
    exclamation_marks: int


class OutputEvent(StopEvent):
    greeting: str


class Greeting(Workflow):
    @step
    async def greet(self, ctx: Context, ev: InputEvent) -> GreetEvent:
        greet = GreetEvent(greeting=f"{ev.greeting} {ev.name}", exclamation_marks=2)
        ctx.write_event_to_stream(greet)
        return greet

    @step
    async def shout(self, ev: GreetEvent) -> OutputEvent:
        return OutputEvent(greeting=ev.greeting + "!" * ev.exclamation_marks)


class Crashing(Workflow):
    @step
    async def crash(self, ev: StartEvent) -> StopEvent:
        raise ValueError("the disk is full")


class Asked(InputRequiredEvent):
    question: str


class Answered(HumanResponseEvent):
    answer: str


class Hitl(Workflow):
    @step
    async def ask(self, ev: StartEvent) -> Asked:
        return Asked(question=f"What do you think of {ev.input}?")

    @step
    async def answer(self, ev: Answered) -> StopEvent:
        return StopEvent(result=f"you said: {ev.answer}")


class Tick(Event):
    n: int


class Ticker(Workflow):
    @step
    async def tick(self, ctx: Context, ev: StartEvent) -> StopEvent:
        for n in range(ev.input):
            await asyncio.sleep(0.02)
            ctx.write_event_to_stream(Tick(n=n))
        return StopEvent(result=ev.input)


class Sleeper(Workflow):
    @step
    async def sleep(self, ev: StartEvent) -> StopEvent:
        await asyncio.sleep(ev.input / 1000)
        return StopEvent(result=ev.input)


class Progress(Event):
    step: str
    n: int


class A(Event):
    n: int


class B(Event):
    n: int


class Chain(Workflow):
    """Three steps, each writing one event to the stream: the load benchmark's."""

    @step
    async def first(self, ctx: Context, ev: StartEvent) -> A:
        ctx.write_event_to_stream(Progress(step="first", n=ev.input))
        return A(n=ev.input + 1)

    @step
    async def second(self, ctx: Context, ev: A) -> B:
        ctx.write_event_to_stream(Progress(step="second", n=ev.n))
        return B(n=ev.n + 1)

    @step
    async def third(self, ctx: Context, ev: B) -> StopEvent:
        ctx.write_event_to_stream(Progress(step="third", n=ev.n))
        return StopEvent(result=ev.n + 1)


async def main(port: int) -> None:
    server = WorkflowServer()
    server.add_workflow("greeting", Greeting(timeout=None))
    server.add_workflow("crashing", Crashing(timeout=None))
    server.add_workflow("hitl", Hitl(timeout=None))
    server.add_workflow("ticker", Ticker(timeout=None))
    server.add_workflow("sleeper", Sleeper(timeout=None))
    server.add_workflow("slow", Sleeper(timeout=0.5))
    server.add_workflow("chain", Chain(timeout=None))
    await server.serve(host="127.0.0.1", port=port, uvicorn_config={"log_level": "warning"})


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
