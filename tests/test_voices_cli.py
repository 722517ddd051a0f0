"""`dubkit voices`: the profiles, and a sample of each with --audition."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dubkit.audio import read_wav, rms_db
from dubkit.data import VOICES_DIR
from tests.clitools import dubkit

VOICES = VOICES_DIR


def test_lists_every_profile_with_its_fields(tmp_path):
    done = dubkit("voices", "--json", cache=tmp_path)
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert [r["name"] for r in rows] == sorted(p.stem for p in VOICES.glob("*.toml"))
    assert all(set(r) == {"name", "engine", "language", "gender", "license"} and r["license"] for r in rows)


def test_language_filter_keeps_voices_that_speak_it(tmp_path):
    done = dubkit("voices", "--language", "es", cache=tmp_path)
    assert done.returncode == 0, done.stderr
    names = [line.split()[0] for line in done.stdout.splitlines()]
    assert names == ["clone", "es-female-1", "es-female-2", "es-male-1", "espeak-default"]
    assert "es-male-1        kokoro  es     male" in done.stdout


def test_unknown_language_is_a_one_line_error(tmp_path):
    done = dubkit("voices", "--language", "xx-nope-1", cache=tmp_path)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "xx-nope-1" in done.stderr


@pytest.mark.slow
def test_audition_speaks_a_sample_with_each_voice(tmp_path):
    done = dubkit("voices", "--language", "es", "--audition", tmp_path / "samples", "--json", cache=tmp_path)
    assert done.returncode == 0, done.stderr
    samples = {r["name"]: r["sample"] for r in json.loads(done.stdout)}
    assert samples["clone"].startswith("skipped: clones")
    for name in ("es-female-1", "es-female-2", "es-male-1", "espeak-default"):
        assert samples[name] == str(tmp_path / "samples" / f"{name}.wav")
        audio, rate = read_wav(Path(samples[name]))
        assert 1.5 < len(audio) / rate < 10 and rms_db(audio) > -40
