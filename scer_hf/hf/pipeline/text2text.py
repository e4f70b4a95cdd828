"""``text2text-generation`` for encoder-decoder models: transformers 5 removed that pipeline."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

__all__ = ["Text2TextPipeline"]


class Text2TextPipeline:
    """``text2text-generation`` for encoder-decoder models, on top of ``model.generate``.

    Same call shape as the transformers 4 pipeline: ``pipe("text")`` ->
    ``[{"generated_text": ...}]``; ``pipe(["a", "b"])`` -> one dict per input (a list of
    dicts per input when ``num_return_sequences > 1``); an iterator input streams.
    """

    def __init__(self, model: Any, tokenizer: Any, *, device: Any = None, task: str = "text2text-generation"):
        if device is not None:
            model = model.to(device)
        self.model = model
        self.tokenizer = tokenizer
        self.task = task
        self.device = getattr(model, "device", None)

    def _batch(self, texts: list[str], truncation: bool, gen: dict[str, Any]) -> list[list[dict[str, str]]]:
        import torch

        enc = self.tokenizer(texts, return_tensors="pt", padding=True, truncation=truncation)
        if self.device is not None:
            enc = enc.to(self.device)
        with torch.no_grad():
            out = self.model.generate(**enc, **gen)
        seqs = getattr(out, "sequences", out)
        texts_out = self.tokenizer.batch_decode(seqs, skip_special_tokens=True)
        k = len(texts_out) // len(texts)
        return [[{"generated_text": t} for t in texts_out[i * k:(i + 1) * k]] for i in range(len(texts))]

    def _stream(self, inputs: Any, batch_size: int, truncation: bool, gen: dict[str, Any]) -> Iterator[Any]:
        chunk: list[str] = []
        for x in inputs:
            chunk.append(x)
            if len(chunk) == batch_size:
                yield from (r[0] if len(r) == 1 else r for r in self._batch(chunk, truncation, gen))
                chunk = []
        if chunk:
            yield from (r[0] if len(r) == 1 else r for r in self._batch(chunk, truncation, gen))

    def __call__(self, inputs: Any, *, batch_size: int = 1, truncation: bool = True, **generate_kwargs: Any) -> Any:
        if isinstance(inputs, str):
            return self._batch([inputs], truncation, generate_kwargs)[0]
        if isinstance(inputs, (list, tuple)):
            return list(self._stream(list(inputs), max(1, int(batch_size)), truncation, generate_kwargs))
        return self._stream(inputs, max(1, int(batch_size)), truncation, generate_kwargs)

    def __repr__(self) -> str:
        return f"<Text2TextPipeline {getattr(self.model, 'name_or_path', '?')} task={self.task}>"
