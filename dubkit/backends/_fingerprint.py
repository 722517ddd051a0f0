"""What backend fingerprints are made of: installed library versions, and the identity of weights files.

A user-supplied weights file is identified by its sha256 (`file_sha256`), memoized on disk by path, size and
modification time, so a fingerprint stays cheap after the first run. Weights shipped inside a pinned pip package
are identified by the package's version and the file's recorded size (`package_file_identity`), never hashed.
"""

from __future__ import annotations

import json
import logging
from importlib import metadata
from pathlib import Path

from dubkit.backends import models, registry
from dubkit.cache import sha256_file
from dubkit.errors import ConfigError
from dubkit.fsutil import write_text_atomic

log = logging.getLogger(__name__)


def package_version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def library_versions(*distributions: str, backend: str = "") -> str:
    """`name==version` of each distribution, space-separated. One not installed is left out, or, given the
    *backend* ("kind/name") that needs it, is that backend's BackendUnavailable."""
    found = []
    for name in distributions:
        try:
            found.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            if backend:
                raise registry.unavailable(backend, f"{name} is not installed") from None
    return " ".join(found)


def package_file_identity(distribution: str, relative: str) -> str:
    """Identity of weights shipped in a pinned pip package: name==version plus the file's size (from the package's
    record of its files: nothing is read)."""
    try:
        dist = metadata.distribution(distribution)
    except metadata.PackageNotFoundError:
        return f"{distribution} (not installed)"
    size = next((f.size for f in dist.files or [] if str(f).replace("\\", "/") == relative), None)
    return f"{distribution}=={dist.version} {relative} size={size}"


def file_sha256(path: Path) -> str:
    """sha256 of a user-supplied file, memoized on disk (in the models folder) by resolved path, size and mtime."""
    try:
        path = Path(path).expanduser().resolve()
        stat = path.stat()
        key = f"{path}|{stat.st_size}|{stat.st_mtime_ns}"
        memo_path = models.models_dir() / "sha256-memo.json"
        memo = _read_memo(memo_path)
        if key in memo:
            return memo[key]
        digest = sha256_file(path)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    memo = {k: v for k, v in _read_memo(memo_path).items() if not k.startswith(f"{path}|")}
    memo[key] = digest
    try:
        write_text_atomic(memo_path, json.dumps(memo, indent=1, sort_keys=True))
    except OSError as exc:
        log.debug("cannot store sha256 memo %s: %s", memo_path, exc)
    return digest


def _read_memo(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}
