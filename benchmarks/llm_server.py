"""The test LLM server's speed: start-up time and tokens/s of a structured (JSON) answer, through the `openai` client.

    python benchmarks/llm_server.py [--media ../shared/media] [--lines 12] [--repeat 3] [--json out.json]

Starts tests/llm_server.py's server (llama-cpp-python, Gemma 3 270M Q4_K_M, loopback), then asks it to "translate"
the first N FLORES-200 devtest sentences (zho_Hans) into Spanish as one JSON object keyed by line id, the shape the
`llm` backend asks for (the schema turned into a grammar by the server). Start-up = process start to the first
answer of GET /v1/models, the GGUF already assembled. Tokens/s = completion tokens / wall time of the request
(prompt evaluation included), the best of --repeat; each repeat changes the prompt, so no prompt cache helps.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.llm_server import model_path, served_llm  # noqa: E402

MEDIA = Path(__file__).resolve().parents[2] / "shared" / "media"


def lines(media: Path, count: int) -> dict[str, str]:
    sentences = (media / "text" / "flores200_devtest" / "zho_Hans.devtest").read_text().splitlines()
    return {f"L{number:03d}": sentence for number, sentence in enumerate(sentences[:count], 1)}


def schema(line_ids: list[str]) -> dict:
    return {
        "type": "object",
        "properties": {line_id: {"type": "string", "minLength": 1} for line_id in line_ids},
        "required": line_ids,
        "additionalProperties": False,
    }


def timed_answer(client, model: str, source: dict[str, str], attempt: int) -> dict:
    system = f"Translate each line into Spanish (request {attempt}). Answer with a JSON object: line id -> text."
    started = time.perf_counter()
    reply = client.chat.completions.create(
        model=model,
        messages=[
            {"role": "system", "content": system},
            {"role": "user", "content": json.dumps(source, ensure_ascii=False)},
        ],
        response_format={"type": "json_object", "schema": schema(list(source))},
        temperature=0,
        max_tokens=1024,
    )
    seconds = time.perf_counter() - started
    content = reply.choices[0].message.content
    try:
        answer = json.loads(content)
    except json.JSONDecodeError:
        answer = None
    tokens = reply.usage.completion_tokens
    return {
        "seconds": round(seconds, 2),
        "prompt_tokens": reply.usage.prompt_tokens,
        "completion_tokens": tokens,
        "tokens_per_s": round(tokens / seconds, 1),
        "finish_reason": reply.choices[0].finish_reason,
        "valid_json": answer is not None,
        "ids_back": answer is not None and sorted(answer) == sorted(source),
        "answer_head": content[:160],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--media", type=Path, default=MEDIA)
    parser.add_argument("--lines", type=int, default=12)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    import openai

    source = lines(args.media, args.lines)
    model_path()
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        with served_llm(Path(tmp) / "server.log") as server:
            startup = round(time.perf_counter() - started, 2)
            client = openai.OpenAI(base_url=server.base_url, api_key="unused", max_retries=0, timeout=600)
            runs = [timed_answer(client, server.model, source, attempt) for attempt in range(args.repeat)]
    best = max(runs, key=lambda run: run["tokens_per_s"])
    result = {"startup_s": startup, "lines": args.lines, "best": best, "runs": runs}
    print(json.dumps(result, indent=2, ensure_ascii=False))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
