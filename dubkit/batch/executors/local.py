"""The local executor: up to `workers` child processes, each dubbing a chunk of episodes stage-major.

A chunk is claimed in the ledger before its worker starts; the worker (a fresh interpreter, 'spawn') runs
`runner.dub_many` on it, so each model is loaded once per chunk and freed before the next stage, and sends one
JSON message per finished stage and per outcome through a pipe. The parent alone writes the ledger. A worker
dies with its parent (PR_SET_PDEATHSIG), so a killed batch leaves no orphan behind; a worker that dies
(a crash, the OOM killer) fails its unfinished items, which are retried. Ctrl-C stops the workers, gives
their unfinished claims back and keeps everything finished.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from dubkit.batch.items import Item, Settings, Tracker, request

CHUNK_EPISODES = 8  # at most this many episodes per worker chunk: models load once per chunk and stage
POLL_S = 1.0  # how often to look again while another process holds the last open items
STOP_GRACE_S = 10.0  # a stopped worker gets this long to clean up before it is killed


@dataclass
class Worker:
    process: Any
    conn: Connection
    items: dict[tuple[str, str], Item]
    finished: set[tuple[str, str]] = field(default_factory=set)


def run(items: Sequence[Item], settings: Settings, tracker: Tracker) -> None:
    context = multiprocessing.get_context("spawn")
    workers: list[Worker] = []
    try:
        while True:
            while len(workers) < settings.workers and (chunk := _next_chunk(tracker, settings, workers)):
                workers.append(_start(context, chunk, settings))
            if workers:
                _serve(workers, tracker)
            elif tracker.held_elsewhere():
                time.sleep(POLL_S)  # another batch on this output directory works on the rest: wait for it
            else:
                return
    except BaseException:
        _stop(workers, tracker)
        raise


def _next_chunk(tracker: Tracker, settings: Settings, workers: list[Worker]) -> list[Item]:
    """Claim the next chunk: the open episodes shared evenly among the workers, at most CHUNK_EPISODES."""
    busy = {key for worker in workers for key in worker.items}
    size = min(CHUNK_EPISODES, max(1, math.ceil(tracker.open_episodes() / settings.workers)))
    return tracker.claim(size, exclude=busy)


def _start(context: Any, chunk: list[Item], settings: Settings) -> Worker:
    parent_end, child_end = context.Pipe(duplex=False)
    payload = json.dumps({"items": [it.to_dict() for it in chunk], "settings": settings.to_dict()})
    process = context.Process(target=work, args=(payload, child_end, os.getpid()))
    process.start()
    child_end.close()
    return Worker(process, parent_end, {it.key: it for it in chunk})


def _serve(workers: list[Worker], tracker: Tracker) -> None:
    """Handle what the workers say until one of them ends; then account for the items it left unfinished."""
    ready = wait([w.conn for w in workers] + [w.process.sentinel for w in workers])
    for worker in list(workers):
        if worker.conn in ready:
            _drain(worker, tracker)
        if worker.process.sentinel in ready:
            worker.process.join()
            _drain(worker, tracker)
            for key, item in worker.items.items():
                if key not in worker.finished:
                    tracker.failed(item, f"worker process ended ({_exit(worker.process.exitcode)})")
            worker.conn.close()
            workers.remove(worker)


def _drain(worker: Worker, tracker: Tracker) -> None:
    try:
        while worker.conn.poll():
            _handle(json.loads(worker.conn.recv_bytes()), worker, tracker)
    except (EOFError, OSError):
        return


def _handle(message: dict[str, Any], worker: Worker, tracker: Tracker) -> None:
    item = worker.items[(message["episode"], message["language"])]
    if message["event"] == "stage":
        tracker.stage(item, message["stage"], message["cached"], message["key"], message["seconds"])
        return
    worker.finished.add(item.key)
    if message["event"] == "done":
        outputs = {name: Path(path) for name, path in message["outputs"].items()}
        tracker.done(item, outputs, message["seconds"], message["stages"])
    else:
        tracker.failed(item, message["error"], message.get("permanent", False))


def _stop(workers: list[Worker], tracker: Tracker) -> None:
    """Ctrl-C or an error here: stop every worker, keep what they finished, give back the rest."""
    for worker in workers:
        if worker.process.is_alive():
            worker.process.terminate()
    deadline = time.monotonic() + STOP_GRACE_S
    for worker in workers:
        worker.process.join(max(0.0, deadline - time.monotonic()))
        if worker.process.is_alive():
            worker.process.kill()
            worker.process.join()
        _drain(worker, tracker)
        tracker.release([it for key, it in worker.items.items() if key not in worker.finished])


def _exit(code: int | None) -> str:
    if code is not None and code < 0:
        return f"killed by {signal.Signals(-code).name}"
    return f"exit code {code}"


# ---- in the worker process ----


def work(payload: str, conn: Connection, parent: int) -> None:
    """Dub a chunk stage-major and report every finished stage and every outcome to the parent."""
    _die_with(parent)
    from dubkit.cache import Cache
    from dubkit.errors import DubkitError, describe
    from dubkit.runner import dub_many

    data = json.loads(payload)
    items = [Item.from_dict(d) for d in data["items"]]
    settings = Settings.from_dict(data["settings"])
    send = _sender(conn)
    requests, kept = [], []
    for item in items:
        try:
            requests.append(request(item, settings))
            kept.append(item)
        except Exception as exc:  # noqa: BLE001 - a bad preset fails its item only
            send(item, "failed", error=describe(exc), permanent=isinstance(exc, DubkitError))

    def on_stage(index: int, stage: str, report: Any, job: Any) -> None:
        key = job.artefacts[stage].key if stage in job.artefacts else ""
        send(kept[index], "stage", stage=stage, cached=report.cached or report.skipped, key=key, seconds=report.seconds)

    for outcome in dub_many(requests, cache=Cache(settings.cache_root), on_stage=on_stage):
        item = kept[outcome.index]
        if outcome.result is None:
            send(item, "failed", error=outcome.error, permanent=outcome.permanent)
            continue
        summary = outcome.result.summary()
        outputs = {name: str(path) for name, path in outcome.result.outputs.items()}
        seconds = sum(stage["seconds"] for stage in summary["stages"].values())
        send(item, "done", outputs=outputs, seconds=seconds, stages=summary["stages"])


def _sender(conn: Connection):  # noqa: ANN202
    def send(item: Item, event: str, **fields: Any) -> None:
        message = {"event": event, "episode": item.row.episode, "language": item.language, **fields}
        conn.send_bytes(json.dumps(message).encode())

    return send


def _die_with(parent: int) -> None:
    """Be killed when the batch process goes (even by kill -9), ignore Ctrl-C (the parent stops us), and turn
    SIGTERM into an exit that runs cleanup (temporaries are removed by their `finally`)."""
    import contextlib
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
