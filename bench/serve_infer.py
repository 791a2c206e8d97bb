"""Benchmark: ``POST /infer`` of the MARBLE server against a bare FastAPI endpoint.

The demo brain (the digits preset, trained briefly: accuracy does not matter
here) is built in a temporary data home. Two servers then answer the same
requests, one after the other (Kùzu lets one process open a database):

- bare: a minimal FastAPI app under uvicorn (this file run with
  ``--serve-bare``) that loads ``ServingModel`` once and runs one forward
  pass per request in a sync endpoint; no auth, no batching;
- marble: ``marble serve``, with bearer-token auth, metrics middleware and
  the micro-batcher, which answers concurrent requests with shared forwards.

Each is driven by workers in this process at every concurrency (default 1,
16, 64), each request one digits row, each worker on its own keep-alive
connection. The load generator is raw HTTP/1.1 over asyncio streams: requests
encoded once, answers read as status, ``Content-Length`` and body bytes. The
client and the servers share the machine's cores, so whatever the client
spends per request is taken from the server under test: ``httpx.AsyncClient``
(``--client httpx``) spends 2.5-3 ms of CPU per request, about as much as the
whole MARBLE server, the raw client about 0.1-0.3 ms. The answers are still
checked with httpx: the first few requests go to both servers through it,
their outputs must match (``outputs_match``), and any status but 200 during
the load counts as an error. Prints one JSON
line per (server, concurrency): throughput, p50 and p99 latency, and the CPU
time the server process and this client spent per request (on a small machine
they share the cores; MARBLE's lines add the mean forward-pass batch size);
then a summary. Between the two servers, the same forward the server runs
(``ServingModel.predict``) is called in this process on batches of 64 rows
on the server's threads: its rows per second is ``limit_rps``, what a server
could reach if HTTP, JSON and batching cost nothing. MARBLE runs first:
``marble serve`` sets its torch threads from ``core.threads`` (auto: the
usable cores shared among the running MARBLE processes; ``--torch-threads``
sets it), and the limit and the bare server (``OMP_NUM_THREADS``) then get
that same number (``marble_threads`` in the summary, ``limit_threads`` in the
limit's line), so the three compare the same forward on the same threads.
Targets: MARBLE's p50 at concurrency 1 at most 1.2x the bare endpoint's
(what auth and the server's plumbing cost a lone client), MARBLE's
throughput at concurrency 64 at least 2x the bare endpoint's (what
micro-batching buys) and at least 0.5x ``limit_rps`` (``limit_ratio``: what
the plumbing leaves of the forward's own throughput). Missed targets exit 0
(the JSON says so); a server that does not start or any failed request exits 1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import shutil
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from _processes import Server, cpu_seconds, free_port, machine_busy_seconds, running
from pydantic import BaseModel

BRAIN = "demo"
DATASET = "digits"
WARMUP_REQUESTS = 50
P50_TARGET = 1.2
THROUGHPUT_TARGET = 2.0
LIMIT_TARGET = 0.5
LIMIT_BATCH = 64
LIMIT_SECONDS = 5.0
CHECKED_REQUESTS = 8


def log(message: str) -> None:
    print(f"[serve_infer] {message}", file=sys.stderr, flush=True)


# -- the bare endpoint (a child process: ``serve_infer.py --serve-bare HOME``) --------


class InferBody(BaseModel):
    brain: str
    inputs: list[list[float]]


def serve_bare(home: Path, port: int, device: str) -> None:
    """One forward per request, nothing else: what any FastAPI wrapper of the model costs."""
    import uvicorn
    from fastapi import FastAPI

    from marble_graph.config import load_config
    from marble_graph.data_home import DataHome
    from marble_graph.service import BrainService, ServingModel

    models: dict[str, ServingModel] = {}

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        service = BrainService(load_config(None), DataHome(home))
        try:
            models[BRAIN] = service.serving_model(BRAIN, device)
            yield
        finally:
            service.close()

    app = FastAPI(lifespan=lifespan)

    @app.get("/ready")
    def ready() -> dict[str, str]:
        return {"status": "ready"}

    @app.post("/infer")
    def infer(body: InferBody) -> dict[str, Any]:
        outputs = models[BRAIN].predict(np.asarray(body.inputs, np.float32)).outputs
        return {"brain": body.brain, "outputs": outputs.tolist()}

    # As `marble serve` by default (MARBLE_ACCESS_LOG off): no access-log line per
    # request, so neither server pays for one and the latency ratio compares the rest.
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="info", access_log=False)


# -- setup ------------------------------------------------------------------------------


def build_demo(home: Path, epochs: int, device: str) -> dict[str, Any]:
    """The demo brain as `make run` builds it, trained briefly; and an all-scopes token."""
    from marble_graph.config import load_config
    from marble_graph.data_home import DataHome
    from marble_graph.service import BrainService
    from marble_graph.tokens import Scope

    config = load_config(None)
    with BrainService(config, DataHome(home)) as service:
        service.create_brain_for_dataset(BRAIN, DATASET, config)
        summary = service.train(BRAIN, DATASET, epochs=epochs, device=device)
        info = service.get_brain(BRAIN)
        token, _ = service.tokens.create("bench", (Scope.ADMIN,))
    return {
        "token": token,
        "neurons": info.neuron_count,
        "synapses": info.synapse_count,
        "version": info.version,
        "test": summary.test,
    }


def request_bodies() -> list[bytes]:
    """One JSON body per digits row, scaled as the built-in data set is (to [0, 1])."""
    from marble_graph.datasets import load_dataset

    features = load_dataset(DATASET).features.astype(np.float32)
    return [json.dumps({"brain": BRAIN, "inputs": [row.tolist()]}).encode() for row in features]


def forward_limit(home: Path, device: str, threads: int | None) -> dict[str, Any]:
    """Rows per second of the server's forward (``ServingModel.predict``) on batches of 64.

    In this process, with nothing around it: the ceiling of what any server
    of this model reaches on this machine. Batches cycle through the digits
    rows, as the requests do.
    """
    import torch

    from marble_graph.config import load_config
    from marble_graph.data_home import DataHome
    from marble_graph.datasets import load_dataset
    from marble_graph.service import BrainService

    if threads is not None:
        torch.set_num_threads(threads)  # what `marble serve` took
    features = load_dataset(DATASET).features.astype(np.float32)
    batches = [
        features[start : start + LIMIT_BATCH]
        for start in range(0, len(features) - LIMIT_BATCH + 1, LIMIT_BATCH)
    ]
    with BrainService(load_config(None), DataHome(home)) as service:
        model = service.serving_model(BRAIN, device)
    for batch in batches[:5]:
        model.predict(batch)  # warm-up: first calls allocate
    calls = 0
    cpu = time.process_time()
    started = time.perf_counter()
    while (wall := time.perf_counter() - started) < LIMIT_SECONDS or calls < 20:
        model.predict(batches[calls % len(batches)])
        calls += 1
    cpu = time.process_time() - cpu
    return {
        "limit_rps": round(calls * LIMIT_BATCH / wall, 1),
        "limit_ms_per_batch": round(wall * 1000 / calls, 3),
        "limit_cpu_ms_per_row": round(cpu * 1000 / (calls * LIMIT_BATCH), 4),
        "limit_batch": LIMIT_BATCH,
        "limit_threads": torch.get_num_threads(),
    }


def marble_threads(torch_threads: int | None) -> int:
    """Intra-op threads ``marble serve`` took at its start, by core.threads' rule.

    With ``--torch-threads`` the number given; otherwise ``auto``: the usable
    cores over the MARBLE processes holding a core slot, counted while the
    server (one of them) runs, less the core the server keeps for its event
    loop; other MARBLE work on the machine halves it.
    """
    from marble_graph.threads import CoreShare, runtime_dir, threads_for, usable_cpus
    from marble_server.app import SERVER_SPARE_CORES

    if torch_threads is not None:
        return torch_threads
    cpus = usable_cpus()
    holders = CoreShare("auto", cpus, runtime_dir()).holders()
    return threads_for("auto", cpus, holders, SERVER_SPARE_CORES)


# -- load -------------------------------------------------------------------------------


async def batch_histogram(client: httpx.AsyncClient, base: str) -> tuple[float, float]:
    """The MARBLE server's inference batch sizes so far: (sum, count)."""
    text = (await client.get(f"{base}/metrics")).text
    found = {}
    for key in ("sum", "count"):
        match = re.search(rf"^marble_inference_batch_size_{key}\s+(\S+)$", text, re.MULTILINE)
        found[key] = float(match.group(1)) if match else 0.0
    return found["sum"], found["count"]


class RawConnection:
    """One keep-alive HTTP/1.1 connection that sends pre-encoded ``POST /infer`` requests.

    The load generator of the bench (see the module docstring for why not
    httpx): a request is one ``write`` of bytes built once, an answer is read
    as its status line and ``Content-Length`` and the body bytes, nothing
    decoded unless the status is not 200.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, base: str) -> RawConnection:
        host, port = base.removeprefix("http://").rsplit(":", 1)
        reader, writer = await asyncio.open_connection(host, int(port))
        return cls(reader, writer)

    async def post(self, request: bytes) -> tuple[int, bytes]:
        """Send one whole request; (status, body) of its answer."""
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        lower = head.lower()
        at = lower.find(b"\r\ncontent-length:")
        if at < 0:
            raise RuntimeError(f"answer without Content-Length: {head[:200]!r}")
        end = lower.index(b"\r\n", at + 2)
        body = await self.reader.readexactly(int(head[at + 17 : end]))
        return status, body

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


def raw_requests(base: str, bodies: list[bytes], headers: dict[str, str]) -> list[bytes]:
    """``POST /infer`` of each body as the bytes the raw client sends."""
    host = base.removeprefix("http://")
    lines = ["POST /infer HTTP/1.1", f"Host: {host}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    head = "\r\n".join(lines).encode("latin-1")
    return [head + b"\r\nContent-Length: %d\r\n\r\n" % len(body) + body for body in bodies]


async def drive(
    server: Server,
    bodies: list[bytes],
    headers: dict[str, str],
    concurrency: int,
    total: int,
    client: str = "raw",
    shared_client: bool = False,
) -> dict[str, Any]:
    """Warm up, then ``total`` requests from ``concurrency`` back-to-back workers.

    Besides latency and throughput, the CPU time the server process and this
    client spent per request during the measured part: on a small machine the
    two compete for the same cores, and the split shows where the time goes.
    """
    if client == "raw":
        return await drive_raw(server, bodies, headers, concurrency, total)
    async with AsyncExitStack() as stack:
        if shared_client:
            pool = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
            clients = [httpx.AsyncClient(limits=pool, timeout=60.0)] * concurrency
        else:
            # One connection per client: httpx's pool scans all of its connections for
            # each request, which at 64 costs the client several ms of CPU per request.
            one = httpx.Limits(max_connections=1, max_keepalive_connections=1)
            clients = [httpx.AsyncClient(limits=one, timeout=60.0) for _ in range(concurrency)]
        for pooled in dict.fromkeys(clients):
            await stack.enter_async_context(pooled)
        url = f"{server.base}/infer"
        latencies: list[float] = []
        errors: list[str] = []
        issued = 0

        async def worker(client: httpx.AsyncClient, count: int) -> None:
            nonlocal issued
            while issued < count:
                body = bodies[issued % len(bodies)]
                issued += 1
                started = time.perf_counter()
                try:
                    response = await client.post(url, content=body, headers=headers)
                except httpx.HTTPError as exc:
                    errors.append(f"{type(exc).__name__}: {exc}")
                    continue
                elapsed = time.perf_counter() - started
                if response.status_code == 200:
                    latencies.append(elapsed)
                else:
                    errors.append(f"HTTP {response.status_code}: {response.text[:200]}")

        warmup = max(WARMUP_REQUESTS, 2 * concurrency)
        await asyncio.gather(*(worker(client, warmup) for client in clients))
        warm_errors, errors[:], latencies[:], issued = list(errors), [], [], 0
        window = await measured(
            server, clients[0], asyncio.gather(*(worker(client, total) for client in clients))
        )
    return load_row(total, latencies, errors, warm_errors, *window)


async def measured(
    server: Server, scraper: httpx.AsyncClient, load: Awaitable[Any]
) -> tuple[Any, ...]:
    """Run ``load`` and measure around it: wall, client and server CPU, machine busy
    seconds and (for MARBLE) the batch-size histogram, as ``load_row`` takes them."""
    marble = server.name == "marble"
    histogram = await batch_histogram(scraper, server.base) if marble else None
    server_cpu, client_cpu = cpu_seconds(server.pid), time.process_time()
    busy = machine_busy_seconds()
    started = time.perf_counter()
    await load
    wall = time.perf_counter() - started
    busy_after = machine_busy_seconds()
    server_cpu_after, client_cpu = cpu_seconds(server.pid), time.process_time() - client_cpu
    if histogram is not None:
        after = await batch_histogram(scraper, server.base)
        histogram = after[0] - histogram[0], after[1] - histogram[1]
    return (wall, client_cpu, server_cpu, server_cpu_after, busy, busy_after, histogram)


async def drive_raw(
    server: Server, bodies: list[bytes], headers: dict[str, str], concurrency: int, total: int
) -> dict[str, Any]:
    """``drive`` with one ``RawConnection`` per worker."""
    requests = raw_requests(server.base, bodies, headers)
    connections = [await RawConnection.open(server.base) for _ in range(concurrency)]
    latencies: list[float] = []
    errors: list[str] = []
    issued = 0

    async def worker(connection: RawConnection, count: int) -> None:
        nonlocal issued
        while issued < count:
            request = requests[issued % len(requests)]
            issued += 1
            started = time.perf_counter()
            status, body = await connection.post(request)
            elapsed = time.perf_counter() - started
            if status == 200:
                latencies.append(elapsed)
            else:
                errors.append(f"HTTP {status}: {body[:200].decode(errors='replace')}")

    try:
        warmup = max(WARMUP_REQUESTS, 2 * concurrency)
        await asyncio.gather(*(worker(c, warmup) for c in connections))
        warm_errors, errors[:], latencies[:], issued = list(errors), [], [], 0
        async with httpx.AsyncClient(timeout=60.0) as scraper:
            window = await measured(
                server, scraper, asyncio.gather(*(worker(c, total) for c in connections))
            )
    finally:
        for connection in connections:
            await connection.close()
    return load_row(total, latencies, errors, warm_errors, *window)


def load_row(
    total: int,
    latencies: list[float],
    errors: list[str],
    warm_errors: list[str],
    wall: float,
    client_cpu: float,
    server_cpu: float | None,
    server_cpu_after: float | None,
    busy: float | None,
    busy_after: float | None,
    histogram: tuple[float, float] | None,
) -> dict[str, Any]:
    """The JSON line of one measured stretch (``histogram``: batch rows and forwards in it)."""
    p50, p99 = np.percentile(latencies, [50, 99]) * 1000 if latencies else (float("nan"),) * 2
    row: dict[str, Any] = {
        "requests": total,
        "errors": len(errors) + len(warm_errors),
        "throughput_rps": round(len(latencies) / wall, 1),
        "p50_ms": round(float(p50), 3),
        "p99_ms": round(float(p99), 3),
        "client_cpu_ms_per_request": round(client_cpu * 1000 / total, 3),
    }
    if server_cpu is not None and server_cpu_after is not None:
        server_cpu = server_cpu_after - server_cpu
        row["server_cpu_ms_per_request"] = round(server_cpu * 1000 / total, 3)
        if busy is not None and busy_after is not None:
            # Cores kept busy by everything else on the machine: other work skews every
            # number here, so say how much there was.
            other = (busy_after - busy - server_cpu - client_cpu) / wall
            row["other_cpu_cores"] = round(max(other, 0.0), 2)
    if histogram is not None:
        rows, count = histogram
        row["mean_batch_size"] = round(rows / count, 2) if count else None
        row["forward_passes"] = int(count)
    if warm_errors or errors:
        row["first_error"] = (warm_errors + errors)[0]
    return row


def measure(
    server: Server,
    bodies: list[bytes],
    headers: dict[str, str],
    levels: list[int],
    requests: int | None,
    client: str = "raw",
    shared_client: bool = False,
) -> dict[int, dict[str, Any]]:
    """One JSON line per concurrency level."""
    results: dict[int, dict[str, Any]] = {}
    for concurrency in levels:
        total = requests or (400 if concurrency == 1 else 2000)
        log(f"{server.name}: concurrency {concurrency}, {total} requests")
        row = asyncio.run(drive(server, bodies, headers, concurrency, total, client, shared_client))
        line = {"bench": "serve_infer", "server": server.name, "concurrency": concurrency, **row}
        print(json.dumps(line), flush=True)
        results[concurrency] = line
    return results


def first_outputs(base: str, bodies: list[bytes], headers: dict[str, str]) -> list[list[float]]:
    """Answers to the first ``CHECKED_REQUESTS`` bodies through httpx, a full HTTP client.

    Compared between the two servers: both compute the same forward, and the
    answers the raw load client does not decode are well-formed HTTP and JSON.
    """
    outputs = []
    with httpx.Client(timeout=30.0) as client:
        for body in bodies[:CHECKED_REQUESTS]:
            response = client.post(f"{base}/infer", content=body, headers=headers)
            if response.status_code != 200:
                raise RuntimeError(
                    f"POST {base}/infer: HTTP {response.status_code}: {response.text}"
                )
            outputs.append(list(response.json()["outputs"][0]))
    return outputs


# -- main -------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--concurrency", default="1,16,64", help="comma-separated levels")
    parser.add_argument(
        "--requests", type=int, help="measured requests per level (default 400 at c=1, else 2000)"
    )
    parser.add_argument("--train-epochs", type=int, default=2)
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto (both servers)")
    parser.add_argument("--batch-wait-ms", type=float, help="MARBLE_BATCH_WAIT_MS")
    parser.add_argument("--max-batch-size", type=int, help="MARBLE_MAX_BATCH_SIZE")
    parser.add_argument(
        "--torch-threads",
        type=int,
        help="torch threads of both servers and the limit (default: core.threads auto)",
    )
    parser.add_argument(
        "--client",
        choices=("raw", "httpx"),
        default="raw",
        help="load generator: raw keep-alive sockets (default) or httpx.AsyncClient",
    )
    parser.add_argument(
        "--shared-client",
        action="store_true",
        help="with --client httpx: one client pooling all connections (default: one per worker)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary home and logs")
    parser.add_argument("--serve-bare", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bare is not None:
        serve_bare(args.serve_bare, args.port, args.device)
        return 0
    levels = [int(c) for c in args.concurrency.split(",") if c.strip()]

    root = Path(tempfile.mkdtemp(prefix="marble-serve-infer-"))
    home = root / "home"
    started = time.perf_counter()
    try:
        log(f"building the demo brain in {home} ({args.train_epochs} epochs)")
        demo = build_demo(home, args.train_epochs, args.device)
        log(f"demo: {demo['neurons']} neurons, {demo['synapses']} synapses, {demo['test']}")
        bodies = request_bodies()

        env = {k: v for k, v in os.environ.items() if k not in ("MARBLE_HOME", "MARBLE_CONFIG")}
        if args.batch_wait_ms is not None:
            env["MARBLE_BATCH_WAIT_MS"] = str(args.batch_wait_ms)
        if args.max_batch_size is not None:
            env["MARBLE_MAX_BATCH_SIZE"] = str(args.max_batch_size)
        marble_cmd = [str(Path(sys.executable).parent / "marble"), "--home", str(home)]
        # `marble serve` runs /infer on core.device, and sets its threads from
        # core.threads (auto: the cores shared among running MARBLE processes),
        # not from OMP_NUM_THREADS.
        core = {"device": args.device}
        if args.torch_threads is not None:
            env["OMP_NUM_THREADS"] = str(args.torch_threads)
            core["threads"] = str(args.torch_threads)
        config = root / "marble.yaml"
        config.write_text("core:\n" + "".join(f"  {k}: {v}\n" for k, v in core.items()))
        marble_cmd += ["--config", str(config)]
        marble_cmd.append("serve")
        plain = {"Content-Type": "application/json"}
        authed = {**plain, "Authorization": f"Bearer {demo['token']}"}
        bare_cmd = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--serve-bare",
            str(home),
            "--device",
            args.device,
        ]

        results: dict[str, dict[int, dict[str, Any]]] = {}
        outputs: dict[str, list[list[float]]] = {}
        limit: dict[str, Any] = {}
        threads: dict[str, int] = {}
        # One after the other: each server opens the graph database read-write. MARBLE
        # first: the threads core.threads gives it are the ones the limit and the bare
        # server then get, so all three run the forward with the same threads.
        for server, command, headers in (
            ("marble", marble_cmd, authed),
            ("bare", bare_cmd, plain),
        ):
            if server == "bare":
                # Between the servers (which hold the database while they run), so the
                # ceiling is measured in the same stretch of machine time as they are.
                log(f"forward limit: batches of {LIMIT_BATCH} in this process")
                limit = forward_limit(home, args.device, threads["marble"])
                print(json.dumps({"bench": "serve_infer", "server": "limit", **limit}), flush=True)
                env["OMP_NUM_THREADS"] = str(threads["marble"])
            port = free_port()
            log(f"starting the {server} server on port {port}")
            with running(server, [*command, "--port", str(port)], env, root, port) as handle:
                if server == "marble":
                    threads["marble"] = marble_threads(args.torch_threads)
                outputs[server] = first_outputs(handle.base, bodies, headers)
                results[server] = measure(
                    handle, bodies, headers, levels, args.requests, args.client, args.shared_client
                )

        marble, bare = results["marble"], results["bare"]
        summary: dict[str, Any] = {"bench": "serve_infer"}
        if 1 in levels:
            summary["p50_ratio_c1"] = round(marble[1]["p50_ms"] / bare[1]["p50_ms"], 3)
            summary["p50_target"] = P50_TARGET
        if 64 in levels:
            summary["throughput_ratio_c64"] = round(
                marble[64]["throughput_rps"] / bare[64]["throughput_rps"], 3
            )
            summary["throughput_target"] = THROUGHPUT_TARGET
            summary["limit_rps"] = limit["limit_rps"]
            summary["limit_ratio"] = round(marble[64]["throughput_rps"] / limit["limit_rps"], 3)
            summary["limit_target"] = LIMIT_TARGET
        summary["meets_targets"] = (
            summary.get("p50_ratio_c1", float("inf")) <= P50_TARGET
            and summary.get("throughput_ratio_c64", 0.0) >= THROUGHPUT_TARGET
            and summary.get("limit_ratio", 0.0) >= LIMIT_TARGET
        )
        summary.update(
            neurons=demo["neurons"],
            synapses=demo["synapses"],
            outputs_match=bool(np.allclose(outputs["marble"], outputs["bare"], atol=1e-5)),
            device=args.device,
            batch_wait_ms=args.batch_wait_ms,
            max_batch_size=args.max_batch_size,
            torch_threads=args.torch_threads,
            marble_threads=threads.get("marble"),
            client=args.client,
            shared_client=args.shared_client,
            seconds=round(time.perf_counter() - started, 1),
            machine=platform.machine(),
            cpus=os.cpu_count(),
        )
        print(json.dumps(summary), flush=True)
        errors = sum(r["errors"] for rows in results.values() for r in rows.values())
        if errors:
            log(f"{errors} requests failed")
            return 1
        return 0
    except RuntimeError as exc:
        log(str(exc))
        return 1
    finally:
        if args.keep:
            log(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
