"""Starts our Rust server (the `protocol_fixture` example) on a free port
for the tests, which drive it only through LlamaIndex's WorkflowClient."""

import os
import socket
import subprocess
import time

import httpx
import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def base_url():
    binary = os.environ["WORKFLOW_SERVER_FIXTURE"]
    port = _free_port()
    process = subprocess.Popen([binary, f"127.0.0.1:{port}"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 30
    while True:
        try:
            if httpx.get(f"{url}/health").status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.time() > deadline or process.poll() is not None:
            process.kill()
            raise RuntimeError(f"the server did not start: {process.stdout.read()!r}")
        time.sleep(0.05)
    yield url
    process.terminate()
    process.wait(timeout=10)
