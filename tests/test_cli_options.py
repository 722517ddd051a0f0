"""The episode options (`dubkit.options`): `dubkit translate` and `dubkit batch` take the same ones, and each reaches
the episode and preset a dub starts from in both; translate builds them as it always did."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from dubkit import cli
from dubkit.config import load_preset, with_asr_model, with_glossary, without_lipsync, without_qa
from dubkit.data import PIPELINES_DIR
from dubkit.job import Episode
from dubkit.options import CLI_PARAMS

REPO = Path(__file__).resolve().parents[1]
TRANSLATE_OWN = {"input_path", "target", "outdir", "cache_dir", "until", "script", "script_base", "as_json"}
BATCH_OWN = {
    "catalog",
    "targets",
    "outdir",
    "executor",
    "workers",
    "retries",
    "retry_quarantined",
    "cache_dir",
    "ray_address",
    "allow_outside",
    "dry_run",
    "as_json",
}


def _params(command) -> dict:
    return {param.name: param for param in command.params}


def test_translate_and_batch_take_the_same_episode_options():
    """An option that is neither one command's own nor an episode option fails here: it belongs in
    `dubkit.options` (both commands) or, deliberately, in one command's own list above."""
    translate, batch = _params(cli.translate), _params(cli.batch)
    assert set(translate) - TRANSLATE_OWN == set(batch) - BATCH_OWN == set(CLI_PARAMS)
    for name in CLI_PARAMS:  # the same flags, types and defaults; the help of batch's may say which column wins
        assert {**translate[name].to_info_dict(), "help": ""} == {**batch[name].to_info_dict(), "help": ""}
    assert "`pipeline` column wins" in batch["pipeline"].help and "wins" not in translate["pipeline"].help


@pytest.fixture()
def series(tmp_path, monkeypatch) -> Path:
    """A folder to work in: a clip (never opened here), a catalog of it, a preset, a glossary and a cast file."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ep1.mp4").write_bytes(b"not opened")
    (tmp_path / "catalog.csv").write_text("media,episode\nep1.mp4,ep1\n", encoding="utf-8")
    shutil.copyfile(PIPELINES_DIR / "default.toml", tmp_path / "light.toml")
    (tmp_path / "terms.toml").write_text("", encoding="utf-8")
    (tmp_path / "show.cast.toml").write_text("", encoding="utf-8")
    return tmp_path


def _translated(args: list[str], monkeypatch, tmp_path: Path | None = None) -> tuple[Episode, object]:
    """The episode and preset `dubkit translate ep1.mp4 --to es ARGS` hands the runner."""
    import dubkit.runner

    seen = {}

    class Result:
        def summary(self) -> dict:
            return {}

    def dub(episode, **kwargs):
        seen.update(episode=episode, preset=kwargs["preset"])
        return Result()

    monkeypatch.setattr(dubkit.runner, "dub", dub)
    done = CliRunner().invoke(cli.main, ["translate", "ep1.mp4", "--to", "es", "--json", *args])
    assert done.exit_code == 0, done.output
    return seen["episode"], seen["preset"]


def _batched(args: list[str], monkeypatch, tmp_path: Path) -> tuple[Episode, object]:
    """The episode and preset a worker of `dubkit batch catalog.csv --to es ARGS` builds for the catalog's one item,
    from the settings as they reach it (absolute, through JSON)."""
    from dubkit.batch.executors import local
    from dubkit.batch.items import Settings, request

    seen = []

    def run(items, settings, tracker):
        received = Settings.from_dict(json.loads(json.dumps(settings.to_dict())))
        seen.extend(request(item, received) for item in items)

    monkeypatch.setattr(local, "run", run)
    done = CliRunner().invoke(
        cli.main, ["batch", "catalog.csv", "--to", "es", "-o", "out", "--cache-dir", str(tmp_path / "c"), *args]
    )
    assert done.exit_code == 0, done.output
    (found,) = seen
    return found.episode, found.preset


# option → its arguments, and what the episode and preset it reaches must show (in a folder made by `series`)
HONOURED = {
    "--from": (["--from", "en"], lambda episode, preset: episode.source == "en"),
    "--pipeline": (["--pipeline", "light.toml"], lambda episode, preset: preset.name == "light"),
    "--asr-model": (
        ["--asr-model", "large-v3"],
        lambda episode, preset: preset.transcribe.options.get("model") == "large-v3",
    ),
    "--cast": (["--cast", "S1=es-female-1"], lambda episode, preset: episode.cast == {"S1": "es-female-1"}),
    "--cast-file": (
        ["--cast-file", "show.cast.toml"],
        lambda episode, preset: (
            bool(episode.cast_file) and episode.cast_file.resolve() == Path("show.cast.toml").resolve()
        ),
    ),
    "--glossary": (
        ["--glossary", "terms.toml"],
        lambda episode, preset: preset.translate.glossary == str(Path("terms.toml").resolve()),
    ),
    "--no-lipsync": (["--no-lipsync"], lambda episode, preset: not preset.lipsync.enabled and preset.qa.enabled),
    "--no-qa": (["--no-qa"], lambda episode, preset: not preset.qa.enabled and preset.lipsync.enabled),
    "--hardsubs": (["--hardsubs", "erase"], lambda episode, preset: preset.hardsubs.mode == "erase"),
}


def test_every_episode_option_has_a_case_below():
    flags = {param.opts[0] for param in cli.translate.params if param.name in CLI_PARAMS}
    assert flags == set(HONOURED)


@pytest.mark.parametrize("flag", sorted(HONOURED))
@pytest.mark.parametrize("command", ["translate", "batch"])
def test_each_episode_option_reaches_the_dub_in_both_commands(series, monkeypatch, command, flag):
    args, honoured = HONOURED[flag]
    dubbed = _translated if command == "translate" else _batched
    assert honoured(*dubbed(args, monkeypatch, series))
    assert not honoured(*dubbed([], monkeypatch, series))  # the case can fail: without the option it does not hold


def test_translate_builds_the_episode_and_preset_as_before(series, monkeypatch):
    args = ["--from", "en", "--pipeline", "light.toml", "--asr-model", "tiny", "--cast", "S1=es-female-1"]
    args += ["--cast", "S2=es-male-1", "--cast-file", "show.cast.toml", "--glossary", "terms.toml"]
    args += ["--no-lipsync", "--no-qa", "--script", "edited.srt", "--base", "ep1.es.script.json"]
    episode, preset = _translated(args, monkeypatch)
    cast = {"S1": "es-female-1", "S2": "es-male-1"}
    assert episode == Episode(
        Path("ep1.mp4"), "es", "en", Path("edited.srt"), cast, Path("show.cast.toml"), Path("ep1.es.script.json")
    )
    expected = without_qa(without_lipsync(load_preset("light.toml")))
    assert preset == with_asr_model(with_glossary(expected, series / "terms.toml"), "tiny")
    assert _translated([], monkeypatch) == (Episode(Path("ep1.mp4"), "es"), load_preset(None))


@pytest.mark.parametrize("command", ["translate", "batch"])
def test_a_malformed_cast_is_one_line_and_exit_code_two(series, command):
    target = ["ep1.mp4", "--to", "es"] if command == "translate" else ["catalog.csv", "--to", "es", "-o", "out"]
    done = CliRunner().invoke(cli.main, [command, *target, "--cast", "S1"])
    assert done.exit_code == 2
    assert done.output.strip() == "dubkit: error: --cast 'S1': expected SPEAKER=VOICE"


@pytest.mark.slow
def test_a_batch_without_lipsync_and_review_delivers_the_original_picture(tmp_path, shared_media):
    import av

    clip = tmp_path / "bbaf2n.mpg"
    shutil.copyfile(shared_media / "video" / "grid" / clip.name, clip)
    (tmp_path / "catalog.csv").write_text("media,episode,source\nbbaf2n.mpg,ep1,en\n", encoding="utf-8")
    argv = [sys.executable, "-m", "dubkit", "batch", str(tmp_path / "catalog.csv"), "--to", "es", "--json"]
    argv += ["-o", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "cache"), "--no-lipsync", "--no-qa"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["totals"] == {"done": 1, "items": 1}
    folder = tmp_path / "out" / "ep1"
    assert (folder / "bbaf2n.es.mp4").is_file() and not (folder / "bbaf2n.es.qa").exists()
    with av.open(str(clip)) as a, av.open(str(folder / "bbaf2n.es.mp4")) as b:
        original = [bytes(p) for p in a.demux(a.streams.video[0]) if p.size]
        delivered = [bytes(p) for p in b.demux(b.streams.video[0]) if p.size]
    assert original == delivered  # the picture copied, not re-animated
