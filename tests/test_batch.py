"""Batch building blocks: the catalog, the ledger, temporaries left by killed processes, the report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dubkit.batch import catalog, ledger, report
from dubkit.batch.items import Item, Settings, request
from dubkit.data import PIPELINES_DIR
from dubkit.errors import ConfigError
from dubkit.fsutil import atomic_path, owner_tag, sweep_stale
from dubkit.job import Artefact, Episode, Job, LineFit
from dubkit.options import EpisodeOptions


def _catalog(tmp_path: Path, text: str, name: str = "catalog.csv") -> Path:
    (tmp_path / "media").mkdir(exist_ok=True)
    for clip in ("a.mp4", "b.mp4"):
        (tmp_path / "media" / clip).write_bytes(b"not really")
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_rows_resolve_paths_against_the_catalog_and_languages_default_to_to(tmp_path):
    path = _catalog(tmp_path, "media,episode,series,languages\nmedia/a.mp4,ep1,s,\nmedia/b.mp4,,s,fr;pt-br\n")
    found = catalog.load(path, ("es",))
    assert not found.invalid
    first, second = found.rows
    assert first.media == tmp_path / "media" / "a.mp4" and first.languages == ("es",)
    assert second.episode == "b" and second.languages == ("fr", "pt-BR")


def test_jsonl_rows_take_lists_and_optional_files(tmp_path):
    rows = [
        {"media": "media/a.mp4", "episode": "x1", "languages": ["es", "pt-BR"], "glossary": "g.toml"},
        {"media": "media/b.mp4", "episode": "x2", "pipeline": "default"},
    ]
    path = _catalog(tmp_path, "\n".join(json.dumps(r) for r in rows) + "\n", "catalog.jsonl")
    found = catalog.load(path, ("fr",))
    assert [r.languages for r in found.rows] == [("es", "pt-BR"), ("fr",)]
    assert found.rows[0].glossary == tmp_path / "g.toml" and found.rows[1].pipeline == "default"


@pytest.mark.parametrize(
    ("media", "reason"),
    [
        ("../../etc/passwd", "leaves the catalog's folder"),
        ("/etc/passwd", "leaves the catalog's folder"),
        ("link/secret", "leaves the catalog's folder"),
    ],
)
def test_a_path_out_of_the_catalog_folder_is_refused_and_the_others_go_on(tmp_path, media, reason):
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    outside.mkdir(exist_ok=True)
    (outside / "secret").write_text("x")
    root = tmp_path / "cat"
    root.mkdir()
    (root / "link").symlink_to(outside)  # a symlink that leads out counts as leaving
    path = _catalog(root, f"media,episode\n{media},bad\nmedia/a.mp4,good\n")
    found = catalog.load(path, ("es",))
    assert [r.episode for r in found.rows] == ["good"]
    (bad,) = found.invalid
    assert bad.line == 2 and reason in bad.reason
    assert catalog.load(path, ("es",), allow_outside=True).rows[0].episode == "bad"


def test_a_file_named_like_an_option_is_a_path_inside_the_catalog(tmp_path):
    path = _catalog(tmp_path, "media,episode\n-rf,ep1\n")
    (row,) = catalog.load(path, ("es",)).rows
    assert row.media == tmp_path / "-rf"  # absolute: it can never reach a command line as an option


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("media/a.mp4,ep 1,", "letters, digits"),
        ("media/a.mp4,ep1,xx-nope", "xx-nope"),
        (",ep1,", "no media path"),
    ],
)
def test_bad_rows_say_why(tmp_path, line, reason):
    found = catalog.load(_catalog(tmp_path, f"media,episode,languages\n{line}\n"), ("es",))
    assert not found.rows and reason in found.invalid[0].reason


def test_duplicate_ids_unknown_columns_and_no_language_are_invalid(tmp_path):
    found = catalog.load(_catalog(tmp_path, "media,episode\nmedia/a.mp4,e\nmedia/b.mp4,e\n"), ("es",))
    assert [r.episode for r in found.rows] == ["e"] and "twice" in found.invalid[0].reason
    found = catalog.load(_catalog(tmp_path, "media,colour\nmedia/a.mp4,red\n"), ("es",))
    assert "unknown column" in found.invalid[0].reason
    found = catalog.load(_catalog(tmp_path, "media\nmedia/a.mp4\n"), ())
    assert "no target language" in found.invalid[0].reason
    found = catalog.load(_catalog(tmp_path, '{"media": "media/a.mp4"}\nnot json\n[1]\n', "c.jsonl"), ("es",))
    assert len(found.rows) == 1 and [i.line for i in found.invalid] == [2, 3]


def test_a_catalog_that_cannot_be_read_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        catalog.load(tmp_path / "missing.csv")
    with pytest.raises(ConfigError, match="media"):
        catalog.load(_catalog(tmp_path, "path,episode\nx,y\n"))
    with pytest.raises(ConfigError, match=".csv or .jsonl"):
        catalog.load(_catalog(tmp_path, "", "catalog.xlsx"))


def test_items_and_settings_cross_processes_as_json(tmp_path):
    row = catalog.Row("e1", tmp_path / "a.mp4", ("es", "fr"), "s", "en", None, tmp_path / "g.toml", "default")
    item = Item(row, "fr")
    assert Item.from_dict(json.loads(json.dumps(item.to_dict()))) == item
    settings = Settings(tmp_path / "out", tmp_path / "cache", workers=3, retries=2)
    assert Settings.from_dict(json.loads(json.dumps(settings.to_dict()))) == settings
    options = EpisodeOptions("en", "default", "tiny", {"S1": "es-female-1"}, tmp_path / "c.toml", tmp_path / "g.toml")
    for episode in (options, EpisodeOptions(lipsync=False, qa=False)):
        settings = Settings(tmp_path / "out", tmp_path / "cache", episode, ray_address="ray://head:10001")
        assert Settings.from_dict(json.loads(json.dumps(settings.to_dict()))) == settings


def test_a_rows_own_columns_win_over_the_batch_episode_options(tmp_path):
    preset = (PIPELINES_DIR / "default.toml").read_text(encoding="utf-8")
    for name in ("batch.toml", "row.toml"):
        (tmp_path / name).write_text(preset, encoding="utf-8")
    cast = {"S1": "es-female-1"}
    options = EpisodeOptions(
        source="en",
        pipeline=str(tmp_path / "batch.toml"),
        asr_model="large-v3",
        cast=cast,
        cast_file=tmp_path / "all.cast.toml",
        glossary=tmp_path / "all.toml",
        lipsync=False,
    )
    settings = Settings(tmp_path / "out", tmp_path / "cache", options)
    bare = catalog.Row("e1", tmp_path / "a.mp4", ("es",))
    given = catalog.Row(
        "e2",
        tmp_path / "b.mp4",
        ("es",),
        source="fr",
        cast_file=tmp_path / "e2.cast.toml",
        glossary=tmp_path / "e2.toml",
        pipeline=str(tmp_path / "row.toml"),
    )
    first, second = request(Item(bare, "es"), settings), request(Item(given, "es"), settings)
    assert first.episode == Episode(tmp_path / "a.mp4", "es", "en", cast=cast, cast_file=tmp_path / "all.cast.toml")
    assert (first.preset.name, first.preset.translate.glossary) == ("batch", str(tmp_path / "all.toml"))
    assert second.episode == Episode(tmp_path / "b.mp4", "es", "fr", cast=cast, cast_file=tmp_path / "e2.cast.toml")
    assert (second.preset.name, second.preset.translate.glossary) == ("row", str(tmp_path / "e2.toml"))
    assert (first.outdir, second.outdir) == (tmp_path / "out" / "e1", tmp_path / "out" / "e2")
    for made in (first, second):  # what no column names comes from the options alone
        assert made.preset.transcribe.options["model"] == "large-v3"
        assert not made.preset.lipsync.enabled and made.preset.qa.enabled


def test_a_job_crosses_processes_as_json(tmp_path):
    job = Job(
        Episode(tmp_path / "a.mp4", "es", cast={"S1": "es-female-1"}, cast_file=tmp_path / "cast.toml"),
        {"ingest": Artefact("k" * 64, tmp_path / "entry", True, {"spans": 3})},
        lines=(LineFit("L0001", 0, 900, 1.05, 1.0, 0, True),),
        duration_s=3.5,
    )
    assert Job.from_dict(json.loads(json.dumps(job.to_dict()))) == job


# ---- the ledger ----

ITEMS = [("e1", "es"), ("e1", "fr"), ("e2", "es")]


def test_a_claimed_item_is_not_claimed_again_while_its_owner_lives(tmp_path):
    first, second = ledger.Ledger(tmp_path), ledger.Ledger(tmp_path)
    first.add(ITEMS)
    second.add(ITEMS)  # a second add keeps what is recorded
    assert first.claim(ITEMS[:2]) == ITEMS[:2]
    assert second.claim(ITEMS) == [ITEMS[2]]
    assert second.claim(ITEMS) == []


def test_a_claim_of_a_dead_process_is_taken_over(tmp_path):
    book = ledger.Ledger(tmp_path)
    book.add(ITEMS)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    ghost = f"{ledger.HOST}:{dead.stdout.strip()}:1"
    book._db.execute("UPDATE items SET status = 'running', owner = ?", (ghost,))
    assert not ledger.owner_alive(ghost)
    assert ledger.owner_alive(f"another-host:{os.getpid()}:1")  # cannot be seen: taken as alive
    assert book.claim(ITEMS) == ITEMS


def test_failures_are_retried_then_quarantined_until_asked_again(tmp_path):
    book = ledger.Ledger(tmp_path)
    book.add(ITEMS)
    book.claim(ITEMS)
    assert book.mark_failed(ITEMS[0], "boom", retries=1) == ledger.FAILED
    assert book.claim(ITEMS) == [ITEMS[0]]
    assert book.mark_failed(ITEMS[0], "boom again", retries=1) == ledger.QUARANTINED
    assert book.claim(ITEMS) == []
    book.requeue(ITEMS)  # --retry-quarantined: once, at the start of a run
    assert book.claim(ITEMS) == [ITEMS[0]]
    assert book.mark_failed(ITEMS[0], "still", retries=1) == ledger.FAILED  # attempts counted afresh
    (entry,) = book.entries([ITEMS[0]])
    assert entry.error == "still" and entry.attempts == 1 and entry.owner is None


def test_done_means_its_outputs_are_there_unchanged(tmp_path):
    book = ledger.Ledger(tmp_path)
    book.add(ITEMS)
    book.claim(ITEMS)
    video, folder = tmp_path / "v.mp4", tmp_path / "qa"
    video.write_bytes(b"video")
    folder.mkdir()
    (folder / "report.json").write_text("{}")
    book.mark_done(ITEMS[0], {"video": video, "report": folder}, 1.5, {"ingest": {"cached": False}})
    book.mark_done(ITEMS[1], {"video": video}, 1.0, {})
    book.release(ITEMS)  # only what is still running is given back
    assert [e.status for e in book.entries(ITEMS)] == ["done", "done", "pending"]
    assert book.verify_done(ITEMS) == []
    (folder / "report.json").write_text('{"edited": 1}')
    assert book.verify_done(ITEMS) == [ITEMS[0]]
    assert book.entries([ITEMS[0]])[0].status == ledger.PENDING


def test_computed_stages_are_recorded_in_order(tmp_path):
    book = ledger.Ledger(tmp_path)
    book.record_stage(ITEMS[0], "ingest", "k1", 0.5)
    book.record_stage(ITEMS[0], "transcribe", "k2", 2.0)
    assert book.computed() == [("e1", "es", "ingest", "k1"), ("e1", "es", "transcribe", "k2")]


# ---- temporaries ----


def test_temporaries_of_dead_processes_are_swept_and_live_ones_kept(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    mine = tmp_path / f".out.mp4.{owner_tag()}.abc.mp4"
    theirs = tmp_path / f".out.mp4.{owner_tag().replace(str(os.getpid()), dead.stdout.strip())}.abc.mp4"
    folder = tmp_path / f"{owner_tag().replace(str(os.getpid()), dead.stdout.strip())}.0123"
    foreign = tmp_path / f".x.tmp{dead.stdout.strip()}x00000000.y"  # another host's
    for path in (mine, theirs, foreign):
        path.write_text("x")
    folder.mkdir()
    (folder / "part").write_text("x")
    (tmp_path / "kept.mp4").write_text("x")
    assert sweep_stale(tmp_path) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([mine.name, foreign.name, "kept.mp4"])


def test_atomic_writes_name_their_writer(tmp_path):
    with atomic_path(tmp_path / "a.txt") as tmp:
        assert owner_tag() in tmp.name
        tmp.write_text("x")
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


# ---- the report ----


def test_the_report_is_one_file_that_fetches_nothing_and_escapes_text(tmp_path):
    row = catalog.Row("<b>e1</b>", tmp_path / "a.mp4", ("es",))
    entry = ledger.Entry("<b>e1</b>", "es", "failed", 2, None, "bad <script>", 1.0, None, None)
    bad = catalog.Invalid(3, "x", "media path '../x' leaves the catalog's folder")
    found = report.build(catalog.Catalog(tmp_path / "c.csv", (row,), (bad,)), [Item(row, "es")], [entry], tmp_path)
    assert found["totals"] == {"failed": 1, "invalid": 1, "items": 2} and report.failed(found) == 2
    page = report.to_html(found)
    assert "<script" not in page and "&lt;script&gt;" in page and "http" not in page
    json_path, html_path = report.write(found, tmp_path)
    assert json.loads(json_path.read_text())["items"][0]["error"] == "bad <script>" and html_path.is_file()


def test_the_report_counts_the_qa_flags_of_each_dub(tmp_path):
    row = catalog.Row("e1", tmp_path / "a.mp4", ("es",))
    review = tmp_path / "e1" / "a.es.qa"
    review.mkdir(parents=True)
    (review / "report.html").write_text("<html></html>")
    (review / "report.json").write_text(json.dumps({"episode": {"lines": {"total": 7, "flagged": 2}}}))
    outputs = {"report": {"path": str(review / "report.html"), "sha256": "x"}}
    entry = ledger.Entry("e1", "es", "done", 1, None, None, 12.5, outputs, {"ingest": {"cached": True}})
    found = report.build(catalog.Catalog(tmp_path / "c.csv", (row,)), [Item(row, "es")], [entry], tmp_path)
    (item,) = found["items"]
    assert (item["qa_flagged"], item["qa_lines"], item["stages_cached"], item["stages_run"]) == (2, 7, 1, 0)
    assert "2 of 7 lines flagged" in report.to_html(found)


def test_the_batch_page_shares_the_qa_page_and_links_each_dub(tmp_path):
    """The base page and stylesheet of the QA report; the dub and its review linked where they exist."""
    from dubkit.qa import pages

    rows = (catalog.Row("e1", tmp_path / "a.mp4", ("es",)), catalog.Row("e2", tmp_path / "b.mp4", ("es",)))
    video = tmp_path / "e1" / "a.es.mp4"
    outputs = {"video": {"path": str(video), "sha256": "x"}}
    entries = [ledger.Entry("e1", "es", "done", 1, None, None, 3.5, outputs, {})]
    found = report.build(catalog.Catalog(tmp_path / "c.csv", rows), [Item(r, "es") for r in rows], entries, tmp_path)
    page = report.to_html(found)
    assert page.startswith("<!DOCTYPE html>") and str(pages.environment().globals["stylesheet"]) in page
    assert f'<a href="{video.resolve().as_uri()}">e1</a>' in page and page.count("<a ") == 1
    assert '<td class="status done">done</td>' in page and '<td class="status pending">pending</td>' in page
    assert '<td class="num">3.5</td>' in page and "done: 1 · pending: 1 · items: 2" in page


def test_unchanged_outputs_are_not_hashed_again_and_a_touched_one_is(tmp_path, monkeypatch):
    video = tmp_path / "v.mp4"
    video.write_bytes(b"video")
    recorded = {"video": ledger.fingerprint(video)}
    hashed = []
    real_digest = ledger.digest
    monkeypatch.setattr(ledger, "digest", lambda path: hashed.append(path) or real_digest(path))
    assert ledger.outputs_intact(recorded) and hashed == []  # size and mtime as recorded: trusted
    os.utime(video, ns=(1, 1))
    assert ledger.outputs_intact(recorded) and hashed == [video]  # touched, same bytes: still intact
    video.write_bytes(b"VIDEO")
    assert not ledger.outputs_intact(recorded)
    video.unlink()
    assert not ledger.outputs_intact(recorded)


def _open_ledger(folder: str, barrier: Any, results: Any) -> None:
    barrier.wait()
    try:
        opened = ledger.Ledger(Path(folder))
        opened.add([("e1", "es")])
        opened.close()
        results.put("ok")
    except Exception as exc:  # noqa: BLE001 - the child reports any failure to the test
        results.put(repr(exc))


def test_batches_creating_one_ledger_at_once_all_open_it(tmp_path):
    """SQLite refuses a concurrent switch to WAL at once ("database is locked") instead of waiting: three batches
    starting together on a new output folder must all get the ledger."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    found = []
    for round_ in range(20):
        barrier, results = context.Barrier(3), context.Queue()
        processes = [
            context.Process(target=_open_ledger, args=(str(tmp_path / str(round_)), barrier, results)) for _ in range(3)
        ]
        for process in processes:
            process.start()
        found += [results.get(timeout=60) for _ in processes]
        for process in processes:
            process.join()
    assert set(found) == {"ok"}, [f for f in found if f != "ok"][:3]
