"""Runs the same scripted HTTP exchanges against LlamaIndex's server and
ours, masks what differs by nature (ids, times, module paths, message
wording, JSON Schema dialects), and reports every other difference in
status code, content type and JSON shape. Differences written down as
deliberate (DELIBERATE, also in docs/server.md) are listed, not failed.

Usage: python compare.py ORIGINAL_URL OURS_URL"""

import json
import sys
import time

import httpx

# (exchange, what differs): deliberate differences, with the reason in docs/server.md.
DELIBERATE = {
    ("stream with internal events", "body"): "the original writes Python class reprs "
    "(\"<class 'workflows.events.StartEvent'>\") as a finished step's event names, and repeats the input's; "
    "ours writes the envelope type and leaves the input's null",
}

MASKED_KEYS = {"handler_id", "run_id", "started_at", "updated_at", "completed_at", "qualified_name", "description"}
TEXT_KEYS = {"detail", "error", "exception_message", "exception_type"}


def shape(value, key=None):
    """What is compared of a JSON value: masked values vanish, messages
    become their type, everything else stays."""
    if key in MASKED_KEYS:
        return "<masked>"
    if key in TEXT_KEYS:
        return "<text>" if isinstance(value, str) else value
    if isinstance(value, dict):
        return {k: shape(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(v) for v in value]
    return value


def schema_shape(schema):
    """A JSON Schema as compared: its title and its property names."""
    return {"title": schema.get("title"), "properties": sorted(schema.get("properties", {}))}


def graph_shape(body):
    graph = body["graph"]
    return {
        "nodes": sorted((n["id"], n["node_type"]) for n in graph["nodes"]),
        "edges": sorted((e["source"], e["target"]) for e in graph["edges"]),
    }


def stream_shape(text, sse):
    events = []
    for block in text.split("\n\n" if sse else "\n"):
        data = [line[5:].strip() for line in block.splitlines() if line.startswith("data:")] if sse else [block]
        for item in data:
            if item.strip():
                event = json.loads(item)
                events.append({"type": event["type"], "types": event.get("types"), "value": shape(event["value"])})
    return events


class Side:
    def __init__(self, url):
        self.http = httpx.Client(base_url=url, timeout=30)
        self.ids = {}

    def call(self, method, path, body=None):
        # A connection of its own per exchange: one server's mistake (a body
        # with a 204) must not garble the next answer.
        with httpx.Client(base_url=self.http.base_url, timeout=30) as http:
            return http.request(method, path.format(**self.ids), json=body)

    def wait_ended(self, name):
        for _ in range(300):
            status = self.http.get(f"/handlers/{self.ids[name]}").json().get("status")
            if status != "running":
                return
            time.sleep(0.02)


def exchanges():
    """(label, method, path, body, how to compare, id to remember as, wait for id)"""
    j = "json"
    return [
        ("health", "GET", "/health", None, j, None, None),
        ("list workflows", "GET", "/workflows", None, j, None, None),
        ("schema", "GET", "/workflows/greeting/schema", None, "schema", None, None),
        ("event schemas", "GET", "/workflows/greeting/events", None, "events", None, None),
        ("representation", "GET", "/workflows/hitl/representation", None, "graph", None, None),
        ("run to a typed stop", "POST", "/workflows/greeting/run", {"start_event": {"greeting": "hello", "name": "Ada"}}, j, None, None),
        ("run, bare kwargs", "POST", "/workflows/greeting/run", {"kwargs": {"greeting": "hi", "name": "Bo"}, "context": {}}, j, None, None),
        ("a failing run", "POST", "/workflows/crashing/run", {"start_event": {}}, j, None, None),
        ("a timed-out run", "POST", "/workflows/slow/run", {"start_event": {"input": 3000}}, j, None, None),
        ("run-nowait", "POST", "/workflows/ticker/run-nowait", {"start_event": {"input": 3}}, j, "ticker", None),
        ("stream from the start", "GET", "/events/{ticker}?after_sequence=-1", None, "sse", None, "ticker"),
        ("stream with internal events", "GET", "/events/{ticker}?after_sequence=-1&include_internal=true", None, "sse", None, "ticker"),
        ("stream as NDJSON", "GET", "/events/{ticker}?after_sequence=-1&sse=false", None, "ndjson", None, "ticker"),
        ("ended stream, cursor now", "GET", "/events/{ticker}", None, j, None, "ticker"),
        ("a bad cursor", "GET", "/events/{ticker}?after_sequence=x", None, j, None, None),
        ("handler, completed", "GET", "/handlers/{ticker}", None, j, None, None),
        ("result, bare", "GET", "/results/{ticker}", None, j, None, None),
        ("hitl nowait", "POST", "/workflows/hitl/run-nowait", {"start_event": {"input": "Rust"}}, j, "hitl", None),
        ("an unknown event type", "POST", "/events/{hitl}", {"event": {"type": "Nope", "value": {}}}, j, None, None),
        ("an answer", "POST", "/events/{hitl}", {"event": {"type": "Answered", "value": {"answer": "great"}}}, j, None, None),
        ("the answered run", "GET", "/handlers/{hitl}", None, j, None, "hitl"),
        ("an event to an ended run", "POST", "/events/{hitl}", {"event": {"type": "Answered", "value": {"answer": "late"}}}, j, None, None),
        ("an event to no run", "POST", "/events/nope", {"event": {"type": "Answered", "value": {"answer": "x"}}}, j, None, None),
        ("handlers by status and name", "GET", "/handlers?status=completed&workflow_name=hitl", None, j, None, None),
        ("sleeper nowait", "POST", "/workflows/sleeper/run-nowait", {"start_event": {"input": 10000}}, j, "sleeper", None),
        ("cancel", "POST", "/handlers/{sleeper}/cancel", None, j, None, None),
        ("the cancelled run", "GET", "/handlers/{sleeper}", None, j, None, "sleeper"),
        ("purge", "POST", "/handlers/{sleeper}/cancel?purge=true", None, j, None, None),
        ("the purged run", "GET", "/handlers/{sleeper}", None, j, None, None),
        ("an unknown handler", "GET", "/handlers/nope", None, j, None, None),
        ("an unknown workflow", "GET", "/workflows/nope/schema", None, j, None, None),
        ("an unknown route", "GET", "/nope", None, j, None, None),
    ]


def observed(side, label, method, path, body, how, keep, wait):
    if wait:
        side.wait_ended(wait)
    try:
        response = side.call(method, path, body)
    except httpx.HTTPError as error:
        return {"status": f"no answer ({type(error).__name__})", "content-type": None, "body": None}
    content_type = response.headers.get("content-type", "").split(";")[0].strip()
    if keep and response.status_code == 200:
        side.ids[keep] = response.json()["handler_id"]
    text = response.text
    if how == "sse" or how == "ndjson":
        body = stream_shape(text, how == "sse")
    elif not text.strip():
        body = None
    else:
        try:
            data = response.json()
        except ValueError:
            data = text
        if how == "schema":
            body = {k: schema_shape(v) for k, v in data.items()}
        elif how == "events":
            # The protocol names no order for them.
            body = sorted((schema_shape(s) for s in data["events"]), key=lambda s: s["title"] or "")
        elif how == "graph":
            body = graph_shape(data)
        elif label == "list workflows" or label == "handlers by status and name":
            body = shape(data)
            if "handlers" in body:
                body = {"handlers": [{k: v for k, v in h.items()} for h in body["handlers"]][:0] + [len(data["handlers"]) > 0]}
        else:
            body = shape(data)
    return {"status": response.status_code, "content-type": content_type, "body": body}


def main(original_url, ours_url):
    original, ours = Side(original_url), Side(ours_url)
    differences, deliberate = [], []
    for exchange in exchanges():
        label = exchange[0]
        a = observed(original, *exchange)
        b = observed(ours, *exchange)
        for part in ("status", "content-type", "body"):
            if a[part] != b[part]:
                entry = (label, part, a[part], b[part])
                (deliberate if (label, part) in DELIBERATE else differences).append(entry)
    total = len(exchanges())
    print(f"conformance: {total} exchanges, {total * 3} comparisons (status, content type, JSON shape)")
    for label, part, a, b in deliberate:
        print(f"  deliberate: {label}: {part}: original {json.dumps(a)}, ours {json.dumps(b)} ({DELIBERATE[(label, part)]})")
    for label, part, a, b in differences:
        print(f"  DIFFERENT: {label}: {part}:\n    original {json.dumps(a)}\n    ours     {json.dumps(b)}")
    print(f"conformance: {len(differences)} differences, {len(deliberate)} deliberate")
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
