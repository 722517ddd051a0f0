"""The ffmpeg runner: locate the binary, run it by argv (never a shell), publish outputs atomically.

Only `dubkit.media` uses this module; nothing else in dubkit runs ffmpeg.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from functools import lru_cache
from pathlib import Path

from dubkit.errors import BackendUnavailable, MediaError
from dubkit.fsutil import atomic_path

log = logging.getLogger(__name__)

BASE_ARGS = ("-nostdin", "-hide_banner", "-nostats")
ONLY_FILES = ("-protocol_whitelist", "file")

# (stderr pattern, short human cause), first match wins.
_CAUSES: tuple[tuple[str, str], ...] = (
    (r"No space left on device", "disk full"),
    (
        r"moov atom not found|Invalid NAL unit size|partial file|Truncat|corrupt|error while decoding",
        "truncated or corrupt",
    ),
    (r"Invalid data found when processing input", "not a media file"),
    (r"matches no streams|does not contain any stream|Stream map .* matches no", "no matching stream"),
    (
        r"not currently supported in container|Could not find tag for codec",
        "codec not supported in the output container",
    ),
    (r"Permission denied", "permission denied"),
    (r"No such file or directory", "file not found"),
    (r"Protocol .* not on whitelist", "refused: reads other files or URLs"),
)


@lru_cache(maxsize=1)
def executable() -> str:
    """The ffmpeg binary: imageio-ffmpeg's static build, else the one on PATH."""
    try:
        import imageio_ffmpeg

        exe = imageio_ffmpeg.get_ffmpeg_exe()
        if exe and os.access(exe, os.X_OK):
            return str(exe)
    except Exception as exc:  # noqa: BLE001 - imageio-ffmpeg missing or its binary absent: try PATH
        log.debug("imageio-ffmpeg unusable: %s", exc)
    found = shutil.which("ffmpeg")
    if not found:
        raise BackendUnavailable("ffmpeg", "no ffmpeg binary found", "pip install imageio-ffmpeg")
    return found


def file_url(path: Path) -> str:
    """`file:` + absolute path, so a name like `-rf.mp4` or `http:x.mp4` is never an option or a URL."""
    return "file:" + str(Path(path).resolve())


def input_args(path: Path, demuxer: str = "", pre: Sequence[str] = ()) -> list[str]:
    """Arguments that open one local input file, with the demuxer pinned when known."""
    forced = ["-f", demuxer] if demuxer else []
    return [*ONLY_FILES, *pre, *forced, "-i", file_url(path)]


def run(args: Sequence[str], path: Path) -> subprocess.CompletedProcess[bytes]:
    """Run ffmpeg with *args* (stdout and stderr captured); a failure becomes a MediaError about *path*."""
    argv = [executable(), *BASE_ARGS, *args]
    log.debug("ffmpeg %s", " ".join(argv[1:]))
    try:
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, check=False)
    except OSError as exc:
        raise MediaError(path, f"cannot run ffmpeg: {exc.strerror or exc}") from None
    if proc.returncode != 0:
        stderr = proc.stderr.decode("utf-8", "replace")
        raise MediaError(path, cause_of(stderr), stderr)
    return proc


def cause_of(stderr: str) -> str:
    """A short human cause for an ffmpeg failure, from its stderr."""
    for pattern, cause in _CAUSES:
        if re.search(pattern, stderr, flags=re.IGNORECASE):
            return cause
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    return f"ffmpeg failed: {lines[-1][:200]}" if lines else "ffmpeg failed"


@contextlib.contextmanager
def output(target: Path) -> Iterator[Path]:
    """A temporary sibling of *target* for ffmpeg to write; renamed onto *target* on success.

    The temporary file is removed on any failure; ENOSPC becomes MediaError("disk full").
    """
    target = Path(target).resolve()
    try:
        with atomic_path(target) as tmp:
            yield tmp
    except MediaError as exc:
        if exc.cause == "disk full":  # name the file that could not be written, not the input
            raise MediaError(target, exc.cause, exc.stderr_tail) from None
        raise
    except OSError as exc:
        cause = "disk full" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))
        raise MediaError(target, cause) from None


def output_args(tmp: Path, muxer: str) -> list[str]:
    """Arguments that write the (pre-created, temporary) output file with an explicit muxer."""
    return ["-y", *ONLY_FILES, "-f", muxer, file_url(tmp)]
