"""The error tree. The library raises these; only the CLI turns them into messages and exit codes."""

from __future__ import annotations


class DubkitError(Exception):
    """Base of every error dubkit raises on purpose. str(error) is a one-line, user-facing message."""

    exit_code = 1


class ConfigError(DubkitError):
    """A preset, option, language code or script is invalid."""

    exit_code = 2


class BackendUnavailable(DubkitError):
    """A backend's library, binary or model is missing; the message says how to install it."""

    exit_code = 3

    def __init__(self, backend: str, reason: str, install: str = "") -> None:
        hint = f" (install: {install})" if install else ""
        super().__init__(f"backend {backend} is unavailable: {reason}{hint}")
        self.backend = backend
        self.reason = reason
        self.install = install


class MediaError(DubkitError):
    """A media file cannot be read or written; carries the tail of ffmpeg's stderr when there is one."""

    exit_code = 4

    def __init__(self, path: object, cause: str, stderr: str = "") -> None:
        super().__init__(f"{path}: {cause}")
        self.path = path
        self.cause = cause
        self.stderr_tail = stderr[-2000:]


class StageFailed(DubkitError):
    """A stage could not produce its output (e.g. no speech found)."""

    exit_code = 5


def one_line(exc: BaseException, limit: int = 300) -> str:
    """A library's error message on one line (its class name when it has none), at most *limit* characters."""
    return (" ".join(str(exc).split()) or exc.__class__.__name__)[:limit]


def describe(exc: BaseException) -> str:
    """One line for the user: the message of a dubkit error, the file and cause of an OS error (disk full), the
    class and message of anything else (a bug)."""
    import errno

    if isinstance(exc, DubkitError):
        return str(exc)
    if isinstance(exc, OSError):
        cause = "disk full" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))
        return f"{exc.filename or 'output'}: {cause}"
    return f"internal error: {exc.__class__.__name__}: {exc}"
