"""Translate backend: a large language model behind any OpenAI-compatible chat endpoint (Ollama, llama.cpp's
server, vLLM, a hosted provider), through the `openai` client.

The episode goes out in windows of `batch_lines` lines, each with `context_lines` lines either side for sense,
`concurrency` windows at a time; the model answers JSON (constrained by a schema where the server supports it,
`structured`) that `dubkit.backends._llm` checks. A window whose reply is wrong is asked again line by line; a line
still wrong stops the stage, naming it. The client retries 429s, 5xx and dropped connections with backoff
(`retries`) and gives up on a request after `timeout_s`.

Every line's answer is kept in the request's memo under what reaches it: the prompt template, the model, the
languages, the series context (synopsis, register, characters, glossary), the speaker, the line's text and, for
versions, its length. The lines around it are left out of that key on purpose: an edited line re-asks only for
itself, and its neighbours keep the translations an editor has already read.

The key is read from the environment variable the preset names (`api_key_env`) when the model is first needed; it
never enters a fingerprint, a cache key, a log or an error message.
"""

from __future__ import annotations

import logging
import os
import threading
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any

from dubkit import languages
from dubkit.backends import _llm, registry
from dubkit.backends._llm import BadReply, Line, Window
from dubkit.backends.base import LineMemo, TranslationRequest
from dubkit.errors import ConfigError, StageFailed, one_line
from dubkit.series import SeriesContext

log = logging.getLogger(__name__)

NAME = "mt/llm"
VERSION = 1  # bump when a change here changes the bytes of a cache entry (see dubkit.cache)
# How the reply is held to its JSON schema: OpenAI's `json_schema` (OpenAI, Ollama, vLLM, llama.cpp's own server);
# `json_object+schema`, the schema inside a `json_object` format (llama-cpp-python's server); `json_object`, any
# JSON; `none`, the prompt alone. The reply is checked the same way whichever the server honours.
STRUCTURED = ("json_schema", "json_object+schema", "json_object", "none")


class LlmTranslator:
    """Any language pair, through `model` at `base_url` (an OpenAI-compatible `/v1`)."""

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:11434/v1",
        model: str = "qwen2.5:7b-instruct",
        api_key_env: str = "",
        temperature: float = 0.0,
        max_tokens: int = 4096,
        timeout_s: float = 120.0,
        retries: int = 4,
        concurrency: int = 4,
        batch_lines: int = 10,
        context_lines: int = 3,
        structured: str = "json_schema",
        extra_body: Mapping[str, Any] | None = None,
    ) -> None:
        if structured not in STRUCTURED:
            raise ConfigError(f"{NAME}: structured must be one of {', '.join(STRUCTURED)}, not {structured!r}")
        if min(concurrency, batch_lines, max_tokens) < 1 or min(context_lines, retries) < 0 or timeout_s <= 0:
            raise ConfigError(f"{NAME}: concurrency, batch_lines and max_tokens must be ≥ 1, the others ≥ 0")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key_env = api_key_env
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.timeout_s = timeout_s
        self.retries = retries
        self.concurrency = concurrency
        self.batch_lines = batch_lines
        self.context_lines = context_lines
        self.structured = structured
        self.extra_body = dict(extra_body or {})
        self._client: Any = None
        self._key = ""
        self._lock = threading.Lock()

    # --- the Backend contract -------------------------------------------------------------------------------------

    def fingerprint(self) -> dict[str, Any]:
        return {
            "engine": "llm",
            "code": [VERSION, _llm.VERSION],
            "endpoint": self.endpoint,
            "model": self.model,
            "prompt": _llm.template_digest(),
            "sampling": {"temperature": self.temperature, "max_tokens": self.max_tokens, "extra": self.extra_body},
            "structured": self.structured,
        }

    @property
    def endpoint(self) -> str:
        """`base_url` without any user name or password in it (what keys, logs and errors may show)."""
        parts = urllib.parse.urlsplit(self.base_url)
        host = parts.hostname or ""
        host = f"[{host}]" if ":" in host else host
        return urllib.parse.urlunsplit(parts._replace(netloc=f"{host}:{parts.port}" if parts.port else host))

    def load(self) -> None:
        """The client, once: the key from the environment, and the model checked against what the server serves."""
        with self._lock:
            if self._client is not None:
                return
            try:
                import openai
            except ImportError as exc:
                raise registry.unavailable(NAME, f"openai is not installed ({exc})") from None
            self._key = self._api_key()
            client = openai.OpenAI(
                base_url=self.base_url, api_key=self._key or "unused", timeout=self.timeout_s, max_retries=self.retries
            )
            self._check_model(client)
            self._client = client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    # --- the Translator contract ----------------------------------------------------------------------------------

    def supports(self, source: str, target: str) -> bool:
        return not languages.same_language(source, target)

    def pairs(self) -> list[tuple[str, str]]:
        return []  # any pair: what the model knows

    def translate(self, request: TranslationRequest) -> list[str]:
        return [versions[0] for versions in self.translate_versions(request, 1)]

    def translate_versions(self, request: TranslationRequest, count: int) -> list[tuple[str, ...]]:
        """Per line, *count* versions (natural, shorter, shortest), from the memo where it has them."""
        if not 1 <= count <= len(_llm.KEYS):
            raise ConfigError(f"{NAME}: asks for 1 to {len(_llm.KEYS)} versions of a line, not {count}")
        lines = _lines(request, count)
        context = request.context or SeriesContext()
        keys = {line.id: self._line_key(request, context, line, count) for line in lines}
        memo = request.memo
        found: dict[str, tuple[str, ...]] = {}
        for line in lines:
            kept = memo.get(keys[line.id]) if memo is not None else None
            if kept is not None:
                found[line.id] = tuple(kept["versions"])
        missing = [index for index, line in enumerate(lines) if line.id not in found]
        if missing:
            self.load()
            system = _llm.instructions(request.source, request.target, context, count)
            windows = _windows(lines, missing, self.batch_lines, self.context_lines)
            for answers in self._answers(system, windows, count, memo):
                found.update(answers)
                for line_id, versions in answers.items():
                    if memo is not None:
                        memo.put(keys[line_id], {"versions": list(versions)})
        return [found[line.id] for line in lines]

    def _answers(
        self, system: str, windows: Sequence[Window], count: int, memo: LineMemo | None
    ) -> Iterator[dict[str, tuple[str, ...]]]:
        """Each window's answers as it completes, `concurrency` at a time, its cost told to the memo; the first
        failure is raised once every window has finished (so what was answered is kept)."""
        failure: StageFailed | None = None
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            for done in as_completed([pool.submit(self._answer, system, window, count) for window in windows]):
                try:
                    answers, usage = done.result()
                except StageFailed as exc:
                    failure = failure or exc
                    continue
                if memo is not None:
                    memo.spend(usage)
                yield answers
        if failure is not None:
            raise failure

    # --- asking -----------------------------------------------------------------------------------------------------

    def _line_key(self, request: TranslationRequest, context: SeriesContext, line: Line, count: int) -> dict:
        character = context.characters.get(line.speaker)
        return {
            "mt": self.fingerprint(),
            "languages": [request.source, request.target],
            "series": {k: v for k, v in context.identity().items() if k != "characters"},
            "speaker": [line.speaker, vars(character) if character else None],
            "text": line.text,
            "versions": count,
            "seconds": line.seconds,
        }

    def _answer(self, system: str, window: Window, count: int) -> tuple[dict[str, tuple[str, ...]], dict[str, int]]:
        """The window's versions; a wrong reply is asked again line by line; a line still wrong is a StageFailed."""
        usage: dict[str, int] = {}
        try:
            return self._read(system, window, count, usage), usage
        except BadReply as exc:
            if len(window.asked) == 1:
                raise self._failed(window.asked[0], exc) from None
            log.info("%s %s: %s; asking line by line", NAME, self.model, exc)
        answers: dict[str, tuple[str, ...]] = {}
        for line in window.asked:
            try:
                answers.update(self._read(system, Window((line,), window.before, window.after), count, usage))
            except BadReply as exc:
                raise self._failed(line, exc) from None
        return answers, usage

    def _read(self, system: str, window: Window, count: int, usage: dict[str, int]) -> dict[str, tuple[str, ...]]:
        """The window asked once, its reply checked, the shorter versions that echo another line dropped."""
        found = _llm.parse(self._ask(system, window, count, usage), window.ids, count)
        return _llm.without_echoes(found, window)

    def _ask(self, system: str, window: Window, count: int, usage: dict[str, int]) -> str | None:
        import openai

        try:
            reply = self._client.chat.completions.create(
                model=self.model,
                messages=[{"role": "system", "content": system}, {"role": "user", "content": _llm.message(window)}],
                temperature=self.temperature,
                max_tokens=self.max_tokens,
                **self._format(window.ids, count),
                **({"extra_body": self.extra_body} if self.extra_body else {}),
            )
        except openai.APIError as exc:
            raise self._unreachable(exc) from None
        if reply.usage is not None:
            usage["prompt_tokens"] = usage.get("prompt_tokens", 0) + (reply.usage.prompt_tokens or 0)
            usage["completion_tokens"] = usage.get("completion_tokens", 0) + (reply.usage.completion_tokens or 0)
        usage["requests"] = usage.get("requests", 0) + 1
        choice = reply.choices[0] if reply.choices else None
        if choice is None:
            raise BadReply("the reply has no choices")
        if choice.finish_reason == "length":
            raise BadReply(f"the reply was cut off at max_tokens = {self.max_tokens}")
        return choice.message.content

    def _format(self, ids: Sequence[str], count: int) -> dict[str, Any]:
        if self.structured == "none":
            return {}
        if self.structured == "json_object":
            return {"response_format": {"type": "json_object"}}
        if self.structured == "json_object+schema":
            return {"response_format": {"type": "json_object", "schema": _llm.schema(ids, count)}}
        named = {"name": "translations", "schema": _llm.schema(ids, count)}
        return {"response_format": {"type": "json_schema", "json_schema": named}}

    # --- errors, in one line, with no key in them -------------------------------------------------------------------

    def _api_key(self) -> str:
        if not self.api_key_env:
            return ""
        key = os.environ.get(self.api_key_env, "").strip()
        if not key:
            raise ConfigError(
                f"{NAME}: the environment variable {self.api_key_env} (api_key_env in the preset) holds no key;"
                ' set it, or api_key_env = "" for a server that needs none'
            )
        return key

    def _check_model(self, client: Any) -> None:
        """A model the server does not list is a StageFailed naming what it serves (a server that lists none, or
        cannot list, is asked anyway)."""
        import openai

        try:
            served = [model.id for model in client.models.list()]
        except openai.NotFoundError:
            return
        except openai.APIError as exc:
            raise self._unreachable(exc) from None
        if served and self.model not in served:
            listed = ", ".join(sorted(served)[:8])
            raise StageFailed(f"{NAME}: model {self.model!r} is not served at {self.endpoint} (it serves: {listed})")

    def _unreachable(self, exc: Exception) -> StageFailed:
        import openai

        if isinstance(exc, openai.APITimeoutError):
            cause = f"no answer within {self.timeout_s:g} s"
        elif isinstance(exc, openai.APIConnectionError):
            cause = f"cannot connect ({one_line(exc.__cause__ or exc, 120)})"
        elif isinstance(exc, openai.APIStatusError):
            cause = f"HTTP {exc.status_code}: {one_line(exc, 160)}"
        else:
            cause = one_line(exc, 160)
        if isinstance(exc, openai.RateLimitError | openai.InternalServerError):
            cause += f", after {self.retries} retries"
        return StageFailed(f"{NAME}: {self.model} at {self.endpoint}: {self._scrubbed(cause)}")

    def _failed(self, line: Line, exc: BadReply) -> StageFailed:
        return StageFailed(
            f"{NAME}: {self.model} at {self.endpoint} gave no usable translation of line {line.id}"
            f" ({line.text[:40]!r}): {self._scrubbed(str(exc))}"
        )

    def _scrubbed(self, text: str) -> str:
        return text.replace(self._key, "***") if self._key else text


def _lines(request: TranslationRequest, count: int) -> list[Line]:
    ids = request.ids or tuple(f"{index + 1}" for index in range(len(request.texts)))
    speakers = request.speakers or ("S1",) * len(request.texts)
    slots = request.slots_ms if count > 1 and request.slots_ms else (None,) * len(request.texts)
    return [
        Line(line_id, speaker, text, None if slot is None else round(slot / 1000, 1))
        for line_id, speaker, text, slot in zip(ids, speakers, request.texts, slots, strict=True)
    ]


def _windows(lines: Sequence[Line], missing: Sequence[int], size: int, around: int) -> list[Window]:
    """The missing lines in runs of at most *size* consecutive lines, each with *around* lines either side."""
    runs: list[list[int]] = []
    for index in missing:
        if runs and runs[-1][-1] == index - 1 and len(runs[-1]) < size:
            runs[-1].append(index)
        else:
            runs.append([index])
    return [
        Window(
            tuple(lines[i] for i in run),
            tuple(lines[max(0, run[0] - around) : run[0]]),
            tuple(lines[run[-1] + 1 : run[-1] + 1 + around]),
        )
        for run in runs
    ]
