"""The Ray executor (`dubkit[ray]`), the only module that imports ray.

Stage-major like the local executor: for each stage, `workers` actors are started (one CPU each; a GPU for the
model stages when the cluster has GPUs), each holding the stage's backends, so a model loads once per actor; every
claimed item goes to them as a row of JSON (the item and its job: paths into the cache, the script), and comes
back the same way; then the actors are killed and the next stage's start. The cache directory must be storage
every node shares; the driver publishes the outputs and alone writes the ledger, so a re-submitted run redoes
only what the cache misses. Without `--ray-address` (or RAY_ADDRESS) a local Ray instance is started, with one
CPU per worker.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Sequence
from typing import Any

import ray

from dubkit.batch.items import Item, Settings, Tracker, request
from dubkit.cache import Cache
from dubkit.errors import BackendUnavailable, DubkitError, describe
from dubkit.job import Job
from dubkit.runner import STAGE_NAMES, STAGES, Request, prepare, publish
from dubkit.stages.base import Backends, Context

log = logging.getLogger(__name__)
GPU_STAGES = ("transcribe", "synthesize", "lipsync")  # stages whose models run faster on a GPU, when there is one
POLL_S = 1.0


def run(items: Sequence[Item], settings: Settings, tracker: Tracker) -> None:
    started = _connect(settings)
    claimed: list[Item] = []
    try:
        while True:
            claimed = tracker.claim()
            if claimed:
                _dub(claimed, settings, tracker)
                claimed = []
            elif tracker.held_elsewhere():
                time.sleep(POLL_S)
            else:
                return
    except BaseException:
        tracker.release(claimed)
        raise
    finally:
        if started:
            ray.shutdown()


def _connect(settings: Settings) -> bool:
    """Join the cluster at `ray_address`, or start a local instance; True when this call started Ray."""
    if ray.is_initialized():
        return False
    try:
        if settings.ray_address:
            ray.init(address=settings.ray_address, logging_level=logging.WARNING)
        else:
            cpus = settings.workers  # a local instance as large as the workers asked for: one CPU each
            ray.init(
                num_cpus=cpus,
                runtime_env={"env_vars": _local_threads()},
                include_dashboard=False,
                logging_level=logging.WARNING,
                log_to_driver=False,
            )
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise BackendUnavailable("ray", f"cannot reach the cluster ({exc})", "pip install 'dubkit[ray]'") from None
    return True


def _local_threads() -> dict[str, str]:
    """The thread settings a local worker process has. Ray sets OMP_NUM_THREADS=1 in its workers where it is not
    set, which OpenBLAS follows, and OpenBLAS on one thread sums in another order than on several: the recognition
    of a line then differs in its last digits, and a dub made on Ray would differ from the same dub made here."""
    return {"OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS") or str(os.cpu_count() or 1)}


def _dub(claimed: Sequence[Item], settings: Settings, tracker: Tracker) -> None:
    """The claimed items through every stage, each stage on its own actors; then published here."""
    cache = Cache(settings.cache_root)
    requests: dict[tuple[str, str], Request] = {}
    jobs: dict[tuple[str, str], Job] = {}
    for item in claimed:
        try:
            requests[item.key] = request(item, settings)
            preset = requests[item.key].preset
            jobs[item.key] = prepare(requests[item.key], Context(cache, preset, Backends(str(preset.path))))
        except Exception as exc:  # noqa: BLE001 - one bad row fails itself only
            tracker.failed(item, describe(exc), isinstance(exc, DubkitError))
    by_key = {item.key: item for item in claimed}
    reports: dict[tuple[str, str], dict[str, Any]] = {key: {} for key in jobs}
    for stage in STAGES:
        for key, answer in _stage(stage.NAME, [(by_key[k], job) for k, job in jobs.items()], settings):
            item = by_key[key]
            if "error" in answer:
                del jobs[key]
                tracker.failed(item, answer["error"], answer.get("permanent", False))
                continue
            jobs[key] = Job.from_dict(answer["job"])
            report = reports[key][stage.NAME] = answer["report"]
            artefact = jobs[key].artefacts.get(stage.NAME)
            reused = report["cached"] or report["skipped"]
            tracker.stage(item, stage.NAME, reused, artefact.key if artefact else "", report["seconds"])
    for key, job in jobs.items():
        try:
            outputs = publish(job, requests[key].outdir)
        except OSError as exc:
            tracker.failed(by_key[key], describe(exc))
            continue
        seconds = sum(r["seconds"] for r in reports[key].values())
        tracker.done(by_key[key], outputs, seconds, reports[key])


def _stage(name: str, work: list[tuple[Item, Job]], settings: Settings) -> list[tuple[tuple[str, str], dict]]:
    """Run stage *name* on every (item, job) over `workers` actors; (item key, answer) as they finish."""
    if not work:
        return []
    gpus = 1 if name in GPU_STAGES and ray.cluster_resources().get("GPU", 0) >= 1 else 0
    actors = [
        StageWorker.options(num_cpus=1, num_gpus=gpus).remote(name, settings.to_dict())  # type: ignore[attr-defined]
        for _ in range(min(settings.workers, len(work)))
    ]
    pending = {
        actors[i % len(actors)].run.remote(json.dumps({"item": item.to_dict(), "job": job.to_dict()})): item.key
        for i, (item, job) in enumerate(work)
    }
    answers = []
    try:
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            key = pending.pop(ready[0])
            try:
                answers.append((key, json.loads(ray.get(ready[0]))))
            except ray.exceptions.RayError as exc:  # the actor died (a crash, out of memory)
                answers.append((key, {"error": f"ray worker failed: {exc.__class__.__name__}"}))
    finally:
        for actor in actors:
            ray.kill(actor)  # the stage's models go with it
    return answers


@ray.remote
class StageWorker:
    """One stage on a cluster node: its backends loaded once, used for every row sent to it."""

    def __init__(self, stage: str, settings: dict[str, Any]) -> None:
        self.stage = STAGES[STAGE_NAMES.index(stage)]
        self.settings = Settings.from_dict(settings)
        self.cache = Cache(self.settings.cache_root)
        self.pool: dict[str, Any] = {}

    def run(self, row: str) -> str:
        from dubkit.runner import run_stage

        data = json.loads(row)
        try:
            item = Item.from_dict(data["item"])
            preset = request(item, self.settings).preset
            ctx = Context(self.cache, preset, Backends(str(preset.path), self.pool))
            job, report = run_stage(self.stage, Job.from_dict(data["job"]), ctx)
        except Exception as exc:  # noqa: BLE001 - the driver records it against the item
            return json.dumps({"error": describe(exc), "permanent": isinstance(exc, DubkitError)})
        answer = {"cached": report.cached, "skipped": report.skipped, "seconds": report.seconds}
        return json.dumps({"job": job.to_dict(), "report": answer | {"counts": dict(report.counts)}})
