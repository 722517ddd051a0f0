"""The wheel works on its own: built from the working tree, installed into a fresh virtual environment that sees
the main environment's third-party packages but not the editable checkout, it finds its presets and voices and
dubs the sample episode from a folder outside the repository."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
PIPELINES = REPO / "dubkit" / "data" / "pipelines"
VOICES = REPO / "dubkit" / "data" / "voices"
PROMPTS = REPO / "dubkit" / "data" / "prompts"
LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")
# The main environment's .pth files are replayed in the new one, except the editable install's: that one would
# put the checkout (and not the wheel) on the path.
EDITABLE_DUBKIT = "__editable__*dubkit*"


@dataclass(frozen=True)
class Install:
    """A virtual environment holding the wheel, and the environment its commands run in (no PYTHONPATH, a cache of
    its own)."""

    root: Path
    env: dict[str, str]

    @property
    def python(self) -> Path:
        return self.root / "bin" / "python"

    def run(self, *args: object, cwd: Path) -> subprocess.CompletedProcess:
        return subprocess.run(list(map(str, args)), cwd=cwd, env=self.env, capture_output=True, text=True, timeout=900)


def check(*args: object, cwd: Path | None = None) -> None:
    done = subprocess.run(list(map(str, args)), cwd=cwd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{' '.join(map(str, args))}\n{done.stdout}\n{done.stderr}"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """A wheel of the working tree, built offline from a copy (the build writes egg-info beside its sources)."""
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, source / name)
    shutil.copytree(REPO / "dubkit", source / "dubkit", ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path_factory.mktemp("wheel")
    check(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", out, source)
    (built,) = out.glob("dubkit-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Install:
    """The wheel in a fresh venv, then the main venv's site-packages on its path through a .pth file."""
    root = tmp_path_factory.mktemp("venv")
    check(sys.executable, "-m", "venv", "--clear", root)
    check(root / "bin" / "python", "-m", "pip", "install", "-q", "--no-deps", "--no-index", wheel)
    site = Path(sysconfig.get_path("purelib", vars={"base": str(root), "platbase": str(root)}))
    main_sites = dict.fromkeys([sysconfig.get_path("purelib"), sysconfig.get_path("platlib")])
    # Named to be read first: the replayed .pth files below may import from the main site-packages.
    (site / "00-main-venv.pth").write_text("".join(f"{path}\n" for path in main_sites), encoding="utf-8")
    for pth in Path(sysconfig.get_path("purelib")).glob("*.pth"):
        if not pth.match(EDITABLE_DUBKIT):
            shutil.copy2(pth, site / pth.name)
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"}}
    return Install(root, {**env, "DUBKIT_CACHE_DIR": str(tmp_path_factory.mktemp("cache"))})


def shipped(folder: Path, pattern: str = "*.toml") -> list[str]:
    return sorted(p.relative_to(REPO).as_posix() for p in folder.glob(pattern))


def voice_names(pattern: str = "*") -> list[str]:
    return sorted(p.stem for p in VOICES.glob(f"{pattern}.toml"))


def test_the_wheel_carries_every_preset_voice_and_prompt(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = shipped(PIPELINES) + shipped(VOICES) + shipped(PROMPTS, "*.j2")
    assert {"dubkit/data/pipelines/default.toml", "dubkit/data/prompts/translate.j2"} <= set(expected)
    assert [name for name in expected if name not in names] == []


def test_the_wheels_copy_is_imported_and_finds_its_data(installed, tmp_path):
    probe = (
        "import json, dubkit\n"
        "from dubkit.config import load_preset\n"
        "from dubkit.casting.voices import load_voices\n"
        "print(json.dumps({'module': dubkit.__file__, 'version': dubkit.__version__,\n"
        "    'presets': [str(load_preset(n).path) for n in ('default', 'studio')], 'voices': sorted(load_voices())}))\n"
    )
    done = installed.run(installed.python, "-c", probe, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert Path(found["module"]).is_relative_to(installed.root), found["module"]
    assert all(Path(path).is_relative_to(installed.root) for path in found["presets"]), found["presets"]
    assert found["voices"] == voice_names()
    assert found["version"] == tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]


def test_voices_lists_the_shipped_profiles(installed, tmp_path):
    done = installed.run(installed.root / "bin" / "dubkit", "voices", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert [row["name"] for row in json.loads(done.stdout)] == voice_names()


def test_the_sample_is_dubbed_from_outside_the_repository(installed, tmp_path):
    if not LIBRIVOX.is_dir():
        pytest.skip(f"{LIBRIVOX}: no LibriVox clips (apt-get install pocketsphinx-testdata)")
    assert not tmp_path.is_relative_to(REPO)
    # A copy of the sample builder, so that the folder it puts on sys.path holds no dubkit.
    builder = tmp_path / "samples" / "make_sample.py"
    builder.parent.mkdir()
    shutil.copy2(REPO / "samples" / "make_sample.py", builder)
    made = installed.run(installed.python, builder, "demo.mp4", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    args = ("-m", "dubkit", "translate", "demo.mp4", "--to", "es", "--no-lipsync", "--no-qa", "--json")
    done = installed.run(installed.python, *args, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["cast"] and set(summary["cast"].values()) <= set(voice_names("es-*")), summary["cast"]
    for key in ("output", "subtitles", "script"):
        assert (tmp_path / summary[key]).is_file(), (key, summary[key])
