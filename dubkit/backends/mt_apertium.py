"""Translate backend: Apertium, the rule-based engine from Debian (`apertium` + `apertium-<pair>` packages).

All lines of an episode go through ONE `apertium -f txt <mode>` call (start-up is ~0.3 s). Lines are
separated by a blank line: the txt deformatter turns a blank line into a hard sentence boundary (it
inserts `.[]` that the reformatter removes), so no word can move from one line into its neighbour.
A plain newline is NOT such a boundary (Apertium reorders words across it when a line has no final
punctuation), so line breaks inside a line are kept as single newlines and translated with it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

from dubkit.backends import registry
from dubkit.backends.base import TranslationRequest
from dubkit.errors import BackendUnavailable, StageFailed

log = logging.getLogger(__name__)

NAME = "mt/apertium"
SEPARATOR = "\n\n"
_MODE = re.compile(r"^(?P<src>[a-z]{2,3}(?:_[A-Za-z0-9]+)?)-(?P<tgt>[a-z]{2,3}(?:_[A-Za-z0-9]+)?)$")
_REGION = re.compile(r"^(?:[A-Za-z]{2}|\d{3})$")
_PACKAGE_DIR = re.compile(r"/(apertium-[a-z]{2,3}-[a-z]{2,3})/")
# Debian's pair packages (bookworm); used only to name the package in an install hint.
DEBIAN_PAIRS = (
    "afr-nld",
    "arg-cat",
    "bel-rus",
    "br-fr",
    "cat-ita",
    "cat-srd",
    "dan-nor",
    "en-gl",
    "eng-cat",
    "eng-spa",
    "eo-ca",
    "eo-en",
    "eo-es",
    "eo-fr",
    "es-gl",
    "es-pt",
    "es-ro",
    "eu-en",
    "eu-es",
    "fr-es",
    "fra-cat",
    "fra-frp",
    "hbs-eng",
    "hbs-mkd",
    "hbs-slv",
    "ind-zlm",
    "isl-eng",
    "isl-swe",
    "mkd-bul",
    "mkd-eng",
    "nno-nob",
    "oc-ca",
    "oc-es",
    "oci-fra",
    "pol-szl",
    "por-cat",
    "pt-gl",
    "rus-ukr",
    "spa-arg",
    "spa-ast",
    "spa-cat",
    "spa-ita",
    "srd-ita",
    "swe-dan",
    "swe-nor",
    "urd-hin",
)


class ApertiumTranslator:
    """Rule-based translation through the `apertium` command and its installed modes (e.g. eng-spa)."""

    def __init__(self, binary: str = "apertium", mark_unknown: bool = False) -> None:
        self.binary = binary
        self.mark_unknown = mark_unknown
        self._modes: dict[str, tuple[str, str]] | None = None

    def fingerprint(self) -> dict[str, str]:
        """Apertium's version and the installed pair packages' versions (memoized per process)."""
        version, data = _fingerprint(self._path())
        return {"library": version, "model": "apertium rule-based pairs", "weights": data}

    def load(self) -> None:
        self.modes()

    def close(self) -> None:
        self._modes = None

    def modes(self) -> dict[str, tuple[str, str]]:
        """Installed translation modes from `apertium -l`: name → (source, target) BCP-47 tags."""
        if self._modes is None:
            listing = _run([self._path(), "-l"], timeout=20).stdout
            found = {}
            for name in listing.split():
                match = _MODE.match(name)
                if match:
                    found[name] = (bcp47(match["src"]), bcp47(match["tgt"]))
            self._modes = found
        return self._modes

    def pairs(self) -> list[tuple[str, str]]:
        return sorted(set(self.modes().values()))

    def supports(self, source: str, target: str) -> bool:
        return self.mode_for(source, target) is not None

    def mode_for(self, source: str, target: str) -> str | None:
        """The best installed mode: exact tags first, then the plain language ('en-GB' → eng), then a variant."""
        scored = []
        for name, (src, tgt) in self.modes().items():
            score_src, score_tgt = _match(src, source), _match(tgt, target)
            if score_src and score_tgt:
                scored.append((-(score_src + score_tgt), name))
        return min(scored)[1] if scored else None

    def translate(self, request: TranslationRequest) -> list[str]:
        """One translation per line, same order, all lines in one Apertium call."""
        mode = self.mode_for(request.source, request.target)
        if mode is None:
            installed = ", ".join(sorted(self.modes())) or "none"
            raise BackendUnavailable(
                NAME,
                f"no Apertium mode for {request.source} → {request.target} (installed: {installed})",
                f"apt-get install {install_package(request.source, request.target)}",
            )
        units = [_unit(text) for text in request.texts]
        todo = [unit for unit in units if unit]
        if not todo:
            return ["" for _ in units]
        done = iter(self._translate_units(mode, todo))
        return [next(done) if unit else "" for unit in units]

    def _translate_units(self, mode: str, units: list[str]) -> list[str]:
        words = sum(len(unit.split()) for unit in units)
        argv = [self._path(), "-f", "txt", *([] if self.mark_unknown else ["-u"]), mode]
        timeout = 30.0 + words / 200.0
        output = _run(argv, stdin=SEPARATOR.join(units) + "\n", timeout=timeout).stdout
        pieces = [re.sub(r" {2,}", " ", piece).strip(" \n") for piece in output.strip("\n").split(SEPARATOR)]
        if len(pieces) != len(units):
            raise StageFailed(f"apertium {mode} returned {len(pieces)} lines for {len(units)}: line separation broke")
        log.debug("apertium %s: %d lines, %d words", mode, len(units), words)
        return pieces

    def _path(self) -> str:
        path = shutil.which(self.binary)
        if path is None:
            raise registry.unavailable(NAME, f"command {self.binary!r} not found")
        return path


def bcp47(code: str) -> str:
    """Apertium code → BCP-47: 'spa' → 'es', 'por_BR' → 'pt-BR', 'cat_valencia' → 'ca-valencia', 'ast' → 'ast'."""
    language, _, variant = code.partition("_")
    primary = _two_letter(language.lower())
    if not variant:
        return primary
    return f"{primary}-{variant.upper() if _REGION.match(variant) else variant.lower()}"


def install_package(source: str, target: str) -> str:
    """The apt packages that provide source → target, e.g. 'apertium apertium-eng-spa'."""
    wanted = {_primary(source), _primary(target)}
    for pair in DEBIAN_PAIRS:
        if {bcp47(code) for code in pair.split("-")} == wanted:
            return f"apertium apertium-{pair}"
    return f"apertium and a {_three_letter(source)}-{_three_letter(target)} pair, see apt-cache search apertium-"


def _unit(text: str) -> str:
    """A line as one Apertium unit: no blank lines inside (they would split it), no NUL, trimmed."""
    parts = (part.strip() for part in text.replace("\0", " ").splitlines())
    return "\n".join(part for part in parts if part)


def _match(mode_tag: str, requested: str) -> int:
    """3: same tag; 2: the mode is the plain language of the request; 1: the request is plain, the mode a variant."""
    mode_tag, requested = mode_tag.lower(), requested.strip().replace("_", "-").lower()
    if mode_tag == requested:
        return 3
    mode_lang, _, mode_rest = mode_tag.partition("-")
    req_lang, _, req_rest = requested.partition("-")
    if mode_lang != _two_letter(req_lang):
        return 0
    if not mode_rest:
        return 2
    return 1 if not req_rest else 0


def _primary(tag: str) -> str:
    return _two_letter(tag.strip().replace("_", "-").split("-")[0].lower())


@lru_cache(maxsize=512)
def _two_letter(code: str) -> str:
    """ISO 639-2/3 → ISO 639-1 where one exists (BCP-47 uses the shortest code)."""
    if len(code) != 3:
        return code
    import pycountry

    language = pycountry.languages.get(alpha_3=code)
    return getattr(language, "alpha_2", None) or code


def _three_letter(tag: str) -> str:
    import pycountry

    code = _primary(tag)
    language = pycountry.languages.get(alpha_2=code) if len(code) == 2 else None
    return language.alpha_3 if language else code


def _run(argv: list[str], stdin: str | None = None, timeout: float = 20.0) -> subprocess.CompletedProcess[str]:
    """Run Apertium; its failures become one-line dubkit errors."""
    try:
        result = subprocess.run(
            argv, input=stdin, capture_output=True, text=True, encoding="utf-8", errors="replace", timeout=timeout
        )
    except FileNotFoundError:
        raise registry.unavailable(NAME, f"command {argv[0]!r} not found") from None
    except subprocess.TimeoutExpired:
        raise StageFailed(f"{Path(argv[0]).name} {' '.join(argv[1:])} timed out after {timeout:.0f} s") from None
    if result.returncode != 0:
        lines = [line.strip() for line in (result.stderr + result.stdout).splitlines() if line.strip()]
        detail = lines[0] if lines else "no message"
        raise StageFailed(f"{Path(argv[0]).name} {' '.join(argv[1:])} failed (exit {result.returncode}): {detail}")
    return result


@lru_cache(maxsize=8)
def _fingerprint(binary: str) -> tuple[str, str]:
    """('Apertium 3.8.3', 'apertium-eng-spa=0.8.1-2 ...') for the installed modes' data packages."""
    version = _run([binary, "-V"], timeout=10).stdout.strip() or "apertium (unknown version)"
    modes = sorted((_data_dir(binary) / "modes").glob("*.mode"))
    packages: dict[str, str] = {}
    for mode in modes:
        text = mode.read_text(encoding="utf-8", errors="replace")
        match = _PACKAGE_DIR.search(text)
        name = match[1] if match else mode.stem
        packages.setdefault(name, "sha256:" + hashlib.sha256(text.encode()).hexdigest()[:16])
    packages.update(_dpkg_versions(list(packages)))
    return version, " ".join(f"{name}={ident}" for name, ident in sorted(packages.items()))


def _data_dir(binary: str) -> Path:
    """Where Apertium's modes live: $APERTIUM_DATADIR, else <prefix>/share/apertium next to the binary."""
    if os.environ.get("APERTIUM_DATADIR"):
        return Path(os.environ["APERTIUM_DATADIR"])
    return Path(binary).resolve().parent.parent / "share" / "apertium"


def _dpkg_versions(packages: list[str]) -> dict[str, str]:
    """Installed Debian package versions; packages dpkg does not know are left out."""
    if not packages or shutil.which("dpkg-query") is None:
        return {}
    argv = ["dpkg-query", "-W", "-f", "${Package}\t${Version}\n", *packages]
    try:
        output = subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return {}
    pairs = (line.split("\t", 1) for line in output.splitlines() if "\t" in line)
    return {name: version for name, version in pairs if version}
