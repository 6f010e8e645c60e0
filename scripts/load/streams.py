"""Starts RUNS runs of the chain with run-nowait (64 at a time), then opens
READERS concurrent SSE streams on some of them from the start: each must
see every event once, in order (dense numbers, Progress first/second/third,
then the stop event). Then the memory per idle waiting run: WAITING hitl
runs left waiting for their answer, the server's RSS before and after.

Usage: python streams.py URL PID [RUNS READERS WAITING]"""

import asyncio
import json
import sys
import time

import httpx

# A reader that has not seen its run's end after this many seconds is wrong.
READ_LIMIT = 60


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


async def start(http, name, body, count, parallel=64):
    ids = []
    semaphore = asyncio.Semaphore(parallel)

    async def one():
        async with semaphore:
            response = await http.post(f"/workflows/{name}/run-nowait", json=body)
            response.raise_for_status()
            ids.append(response.json()["handler_id"])

    await asyncio.gather(*(one() for _ in range(count)))
    return ids


async def read(http, handler_id):
    seen = []
    async with http.stream("GET", f"/events/{handler_id}", params={"sse": "true", "after_sequence": "-1"}) as response:
        current = None
        async for line in response.aiter_lines():
            if line.startswith("id:"):
                current = int(line[3:].strip())
            elif line.startswith("data:"):
                event = json.loads(line[5:])
                seen.append((current, event["type"], event["value"].get("step")))
    return seen


async def main(url, pid, runs, readers, waiting):
    limits = httpx.Limits(max_connections=readers + 64, max_keepalive_connections=readers + 64)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as http:
        began = time.perf_counter()
        ids = await start(http, "chain", {"start_event": {"input": 1}}, runs)
        started = time.perf_counter() - began
        began = time.perf_counter()
        async def bounded(handler_id):
            try:
                return await asyncio.wait_for(read(http, handler_id), READ_LIMIT)
            except (asyncio.TimeoutError, httpx.HTTPError):
                return []  # not every event in time: counted as wrong

        streams = await asyncio.gather(*(bounded(ids[i * len(ids) // readers]) for i in range(readers)))
        read_time = time.perf_counter() - began
        bad = 0
        for seen in streams:
            numbers = [n for n, _, _ in seen]
            steps = [s for _, t, s in seen if t == "Progress"]
            ok = numbers == sorted(set(numbers)) and steps == ["first", "second", "third"] and seen and seen[-1][1] == "StopEvent"
            bad += not ok
        before = rss_kib(pid)
        await start(http, "hitl", {"start_event": {"input": "x"}}, waiting)
        await asyncio.sleep(1.0)
        after = rss_kib(pid)
    per_run = (after - before) * 1024 / max(waiting, 1)
    print(json.dumps({
        "runs": runs, "run_nowait_per_s": round(runs / started),
        "readers": readers, "readers_seconds": round(read_time, 2), "readers_wrong": bad,
        "waiting_runs": waiting, "bytes_per_waiting_run": round(per_run),
    }))
    return 1 if bad else 0


if __name__ == "__main__":
    args = sys.argv[1:]
    runs, readers, waiting = (int(a) for a in (args[2:5] if len(args) >= 5 else (10000, 200, 2000)))
    # 0 runs and 0 readers: the memory of waiting runs alone, on a fresh server.
    sys.exit(asyncio.run(main(args[0], int(args[1]), runs, readers, waiting)))
