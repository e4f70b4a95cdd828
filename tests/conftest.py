"""Shared fixtures: tiny models built once per test session (no download), one torch thread."""

from __future__ import annotations

from pathlib import Path

import pytest


#: the user's Hub settings that would change what a test sees (CI and air-gapped machines set them)
HUB_ENV = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE", "HF_ENDPOINT")
DEFAULT_ENDPOINT = "https://huggingface.co"


@pytest.fixture(autouse=True)
def _clean_hub_env(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Every test starts from a machine with no Hub settings: the suite passes with ``HF_HUB_OFFLINE=1``,
    ``HF_ENDPOINT`` or ``TRANSFORMERS_OFFLINE`` in the environment. A test that wants offline mode or an
    endpoint sets it itself (the fake Hub, ``tests/hubserver.use_fake_hub``, does). huggingface_hub reads these
    variables once, at import, which may have happened at collection: its constants are reset too."""
    import sys

    for name in HUB_ENV:
        monkeypatch.delenv(name, raising=False)
    constants = sys.modules.get("huggingface_hub.constants")
    if constants is not None:
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
        monkeypatch.setattr(constants, "ENDPOINT", DEFAULT_ENDPOINT)
        monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE",
                            DEFAULT_ENDPOINT + "/{repo_id}/resolve/{revision}/{filename}")
    yield


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread():  # type: ignore[no-untyped-def]
    """Tiny models gain nothing from intra-op threads; on a shared 2-core machine they only spin."""
    try:
        import torch
    except ImportError:  # the core tests run without torch
        yield
        return
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """``tiny_model_dir(kind)``: the folder of a tiny *kind* model, built on first use."""
    from scer_hf.hf.tiny import build_tiny_model

    built: dict[str, Path] = {}

    def get(kind: str) -> Path:
        if kind not in built:
            built[kind] = build_tiny_model(tmp_path_factory.mktemp(f"tiny-{kind}"), kind)  # type: ignore[arg-type]
        return built[kind]

    return get


@pytest.fixture(scope="session")
def gpt2(tiny_model_dir) -> str:  # type: ignore[no-untyped-def]
    return str(tiny_model_dir("gpt2"))


@pytest.fixture(scope="session")
def tiny_train_data(tiny_model_dir):  # type: ignore[no-untyped-def]
    """``tiny_train_data(n, max_length)``: the tiny GPT-2 with *n* tokenised prompts as a training Dataset."""
    def make(n: int, max_length: int) -> dict:
        import transformers as tf
        from datasets import Dataset

        from scer_hf.hf.tiny import prompt_texts

        path = tiny_model_dir("gpt2")
        tok = tf.AutoTokenizer.from_pretrained(path)
        enc = tok(prompt_texts(n), truncation=True, max_length=max_length)
        return {"path": path, "tok": tok, "ds": Dataset.from_dict(dict(enc))}

    return make
