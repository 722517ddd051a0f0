"""`dubkit batch` on real clips: local and Ray give the same dubs; kill -9, Ctrl-C and a second batch on the same
folders lose nothing and compute nothing twice; bad rows fail alone; --dry-run runs nothing."""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from dubkit.data import PIPELINES_DIR
from tests.clitools import cache_is_whole

pytestmark = pytest.mark.slow

CLIPS = ("bbaf2n", "brbk7n", "lbax4n", "lbbc2a", "lrwp9a", "lwbsza")
LANGUAGES = ("es", "pt-BR")
HOSTILE = {  # row media → what the report must say
    "missing.mp4": "no such file",
    "-rf": "not a media file",
    "playlist.mp4": "a playlist",
}
TEMPORARY = re.compile(r"tmp\d+x[0-9a-f]{8}")  # the writer's tag every temporary carries (dubkit.fsutil)
RATE = 16000


@pytest.fixture(scope="module")
def library(tmp_path_factory, shared_media) -> Path:
    """A catalog folder: six GRID episodes (copied in: paths may not leave the catalog's folder), three hostile
    rows and one escaping row, and a preset without lip-sync and review (the batch machinery is under test)."""
    root = tmp_path_factory.mktemp("library")
    for clip in CLIPS:
        shutil.copyfile(shared_media / "video" / "grid" / f"{clip}.mpg", root / f"{clip}.mpg")
    (root / "-rf").write_bytes(b"\x00" * 64)
    (root / "playlist.mp4").write_text("#EXTM3U\n#EXTINF:10.0,\nhttp://127.0.0.1:9/a.ts\n#EXT-X-ENDLIST\n")
    preset = (PIPELINES_DIR / "default.toml").read_text(encoding="utf-8")
    preset = preset.replace("[lipsync]\n", "[lipsync]\nenabled = false\n").replace("[qa]\n", "[qa]\nenabled = false\n")
    (root / "light.toml").write_text(preset, encoding="utf-8")
    rows = [f"{clip}.mpg,{clip},grid,,light.toml" for clip in CLIPS]
    rows += [f"{media},bad{i},grid,es,light.toml" for i, media in enumerate(HOSTILE)]
    rows.append("../../etc/passwd,escape,grid,es,light.toml")
    _write_catalog(root / "catalog.csv", rows)
    _write_catalog(root / "three.csv", rows[:3])
    _write_catalog(root / "six.csv", rows[: len(CLIPS)])
    return root


def _write_catalog(path: Path, rows: list[str]) -> None:
    path.write_text("media,episode,series,languages,pipeline\n" + "\n".join(rows) + "\n", encoding="utf-8")


def batch(catalog: Path, out: Path, cache: Path, *args: str, **popen) -> subprocess.Popen:
    argv = [sys.executable, "-m", "dubkit", "batch", str(catalog), "--to", ",".join(LANGUAGES), "-o", str(out)]
    argv += ["--cache-dir", str(cache), "--json", *args]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)


def finished(process: subprocess.Popen, timeout: float = 900) -> tuple[int, dict, str]:
    out, err = process.communicate(timeout=timeout)
    return process.returncode, json.loads(out) if out.strip() else {}, err


@pytest.fixture(scope="module")
def clean(library, tmp_path_factory) -> Path:
    """The reference: one uninterrupted local batch of the whole catalog, two workers."""
    out = tmp_path_factory.mktemp("clean")
    code, report, err = finished(batch(library / "catalog.csv", out / "dubs", out / "cache", "--workers", "2"))
    assert code == 1, err  # the bad rows fail; the batch still ends
    return out / "dubs"


def test_the_local_batch_dubs_every_good_row_and_reports_each_bad_one(clean):
    report = json.loads((clean / "batch.json").read_text())
    assert report["totals"] == {"done": 12, "quarantined": len(HOSTILE), "invalid": 1, "items": 16}
    rows = {(r["episode"], r["language"]): r for r in report["items"]}
    for i, reason in enumerate(HOSTILE.values()):
        assert reason in rows[(f"bad{i}", "es")]["error"]
        assert rows[(f"bad{i}", "es")]["attempts"] == 1  # a bad input is not tried again
    escape = next(r for r in report["items"] if r["status"] == "invalid")
    assert "leaves the catalog's folder" in escape["error"] and "line 11" in escape["error"]
    for clip in CLIPS:
        for language in LANGUAGES:
            assert rows[(clip, language)]["status"] == "done"
            assert (clean / clip / f"{clip}.{language}.mp4").is_file()
    page = (clean / "batch.html").read_text()
    assert page.count("<tr>") == 17 and "<script" not in page


def test_ray_gives_the_same_dubs_as_the_local_executor(library, clean, tmp_path):
    code, report, err = finished(
        batch(library / "catalog.csv", tmp_path / "dubs", tmp_path / "cache", "--executor", "ray", "--workers", "2")
    )
    assert code == 1, err
    assert report["totals"] == json.loads((clean / "batch.json").read_text())["totals"]
    assert_same_dubs(clean, tmp_path / "dubs", CLIPS)
    (tmp_path / "dubs" / CLIPS[0] / f"{CLIPS[0]}.es.mp4").unlink()  # a deliverable lost: that item alone is redone
    code, report, err = finished(
        batch(library / "catalog.csv", tmp_path / "dubs", tmp_path / "cache", "--executor", "ray", "--workers", "2")
    )
    assert code == 1, err
    redone = [r for r in report["items"] if r["status"] == "done" and r["attempts"] == 2]
    assert [(r["episode"], r["language"]) for r in redone] == [(CLIPS[0], "es")]
    assert redone[0]["stages_run"] == 0  # from the shared cache: nothing computed again
    assert_same_dubs(clean, tmp_path / "dubs", CLIPS[:1])


def test_kill_nine_at_random_moments_loses_nothing_and_computes_nothing_twice(library, clean, tmp_path):
    """Ten kills, each at a random moment of a run that still had work (the six episodes, twelve items, take far
    longer than the kills leave them), a re-run after each, then a run to the end."""
    out, cache = tmp_path / "dubs", tmp_path / "cache"
    moments, kills = random.Random(6), 0
    while kills < 10:
        process = batch(library / "six.csv", out, cache)
        time.sleep(moments.uniform(1.0, 3.0 + kills))  # later kills reach later stages
        assert process.poll() is None, f"the batch finished before kill {kills + 1}: make the catalog larger"
        children = _children(process.pid)
        process.send_signal(signal.SIGKILL)
        process.communicate()
        kills += 1
        _wait_gone(children)  # its workers die with it
    code, report, err = finished(batch(library / "six.csv", out, cache))
    assert code == 0, err
    assert report["totals"] == {"done": 12, "items": 12}
    assert_same_dubs(clean, out, CLIPS)
    assert_consistent(out, cache)


def test_two_batches_on_the_same_folders_share_the_work(library, clean, tmp_path):
    out, cache = tmp_path / "dubs", tmp_path / "cache"
    first = batch(library / "three.csv", out, cache, "--workers", "2")
    second = batch(library / "three.csv", out, cache, "--workers", "2")
    for process in (first, second):
        code, report, err = finished(process)
        assert code == 0, err
        assert report["totals"] == {"done": 6, "items": 6}
    assert_same_dubs(clean, out, CLIPS[:3])
    assert_consistent(out, cache)


def test_a_worker_that_dies_fails_its_items_which_are_tried_again(library, clean, tmp_path):
    out, cache = tmp_path / "dubs", tmp_path / "cache"
    process = batch(library / "three.csv", out, cache)
    deadline = time.monotonic() + 60
    while not (workers := [pid for pid in _children(process.pid) if _is_worker(pid)]):
        assert time.monotonic() < deadline, "no worker process started"
        time.sleep(0.2)
    time.sleep(3.0)
    for worker in workers:
        os.kill(worker, signal.SIGKILL)  # what the OOM killer does
    code, report, err = finished(process)
    assert code == 0 and report["totals"] == {"done": 6, "items": 6}, err
    assert {r["attempts"] for r in report["items"]} == {2}  # the killed try, then the one that finished
    assert_same_dubs(clean, out, CLIPS[:3])
    assert_consistent(out, cache)


def test_ctrl_c_stops_cleanly_and_a_rerun_finishes(library, clean, tmp_path):
    out, cache = tmp_path / "dubs", tmp_path / "cache"
    process = batch(library / "three.csv", out, cache, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not _any_computed(out):
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGINT)  # what a terminal sends: the batch and its workers, mid-chunk
    code, _, err = finished(process, timeout=60)
    assert code == 130 and "interrupted" in err
    with sqlite3.connect(out / "ledger.sqlite") as db:
        assert db.execute("SELECT count(*) FROM items WHERE status = 'running'").fetchone() == (0,)
        assert db.execute("SELECT count(*) FROM events").fetchone()[0] >= 1  # the work done so far is kept
    assert not _temporaries(out, cache)
    code, report, err = finished(batch(library / "three.csv", out, cache))
    assert code == 0 and report["totals"] == {"done": 6, "items": 6}, err
    assert_consistent(out, cache)


def test_dry_run_lists_hits_and_misses_and_runs_nothing(library, clean, tmp_path):
    argv = [sys.executable, "-m", "dubkit", "batch", str(library / "three.csv"), "--to", "es", "--dry-run", "--json"]
    fresh = subprocess.run([*argv, "-o", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "cache")], **_text())
    plan = json.loads(fresh.stdout)
    assert len(plan["items"]) == 3 and all(set(i["stages"].values()) == {"miss"} for i in plan["items"])
    assert not (tmp_path / "out").exists() and not (tmp_path / "cache").exists()
    warm = subprocess.run([*argv, "-o", str(tmp_path / "out"), "--cache-dir", str(clean.parent / "cache")], **_text())
    for item in json.loads(warm.stdout)["items"]:
        assert item["stages"] == {
            "ingest": "hit",
            "hardsubs": "hit",
            "transcribe": "hit",
            "translate": "hit",
            "synthesize": "hit",
            "lipsync": "skipped",
            "render": "hit",
            "qa": "skipped",
        }


def assert_same_dubs(reference: Path, other: Path, clips: tuple[str, ...]) -> None:
    """Same decoded dub audio and the same script, for every clip and language."""
    from dubkit import media

    for clip in clips:
        for language in LANGUAGES:
            name = f"{clip}/{clip}.{language}"
            assert (reference / f"{name}.script.json").read_bytes() == (other / f"{name}.script.json").read_bytes()
            a = media.decode_audio(reference / f"{name}.mp4", RATE, 1)
            b = media.decode_audio(other / f"{name}.mp4", RATE, 1)
            assert a.shape == b.shape and np.array_equal(a, b), name


def assert_consistent(out: Path, cache: Path) -> None:
    """Ledger: every item done with intact outputs, no stage computed twice; no temporary left; cache whole."""
    from dubkit.batch import ledger

    book = ledger.Ledger(out)
    entries = book.entries()
    assert entries and all(e.status == ledger.DONE and ledger.outputs_intact(e.outputs) for e in entries)
    computed = [(stage, key) for _, _, stage, key in book.computed()]
    assert len(computed) == len(set(computed)), "a published stage was computed again"
    book.close()
    assert not _temporaries(out, cache)
    assert cache_is_whole(cache)


def _temporaries(*folders: Path) -> list[Path]:
    return [p for folder in folders for p in folder.rglob("*") if TEMPORARY.search(p.name)]


def _any_computed(out: Path) -> bool:
    """Some stage has been computed (the chunk's items are published together at its end)."""
    try:
        with sqlite3.connect(out / "ledger.sqlite") as db:
            return db.execute("SELECT count(*) FROM events").fetchone()[0] > 0
    except sqlite3.Error:
        return False


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return found


def _is_worker(pid: int) -> bool:
    try:
        return b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def _wait_gone(pids: list[int], timeout: float = 10.0) -> None:
    from dubkit.fsutil import process_alive

    deadline = time.monotonic() + timeout
    while any(process_alive(pid) for pid in pids):
        assert time.monotonic() < deadline, f"worker processes {pids} outlived the killed batch"
        time.sleep(0.1)


def _text() -> dict:
    return {"capture_output": True, "text": True, "timeout": 300}
