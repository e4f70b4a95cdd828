"""Tiny, randomly initialised models built from configs: the embedded default.

No download: the tokenizer is trained in well under a second on the prompt set
shipped with scer-hf, the model is built from a config with a fixed seed, and both
are saved to a folder that ``from_pretrained(path)`` / ``pipeline(model=path)`` load.
Used by ``scer-hf demo``, the examples and the tests. Needs ``scer-hf[hf]``.
"""

from __future__ import annotations

import json
import os
from importlib import resources
from pathlib import Path
from typing import Literal

__all__ = ["build_tiny_model", "prompt_texts", "Kind"]

Kind = Literal["gpt2", "t5", "bert", "bert-classifier"]


def prompt_texts(limit: int | None = None) -> list[str]:
    """Prompts of the shipped benchmark set (databricks-dolly-15k subset, CC BY-SA 3.0)."""
    out = []
    with resources.files("scer_hf.data").joinpath("prompts/prompts.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                out.append(json.loads(line)["prompt"])
                if limit is not None and len(out) >= limit:
                    break
    return out


def _tokenizer(kind: Kind, vocab_size: int):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    texts = prompt_texts(400)
    if kind == "gpt2":
        specials = ["<|endoftext|>"]
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        tok.train_from_iterator(texts, trainers.BpeTrainer(
            vocab_size=vocab_size, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False))
        return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|endoftext|>", eos_token="<|endoftext|>",
                                       unk_token="<|endoftext|>", pad_token="<|endoftext|>")
    if kind == "t5":
        specials = ["<pad>", "</s>", "<unk>"]
        tok = Tokenizer(models.BPE(unk_token="<unk>"))
        tok.pre_tokenizer = pre_tokenizers.Metaspace()
        tok.decoder = decoders.Metaspace()
        tok.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials,
                                                                       show_progress=False))
        tok.post_processor = processors.TemplateProcessing(single="$A </s>", pair="$A </s> $B </s>",
                                                           special_tokens=[("</s>", 1)])
        return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>")
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    tok.train_from_iterator(texts, trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=specials,
                                                                           show_progress=False))
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="[PAD]", unk_token="[UNK]", cls_token="[CLS]",
                                   sep_token="[SEP]", mask_token="[MASK]")


def build_tiny_model(
    path: str | os.PathLike[str], kind: Kind = "gpt2", *, vocab_size: int = 512, hidden: int = 64,
    layers: int = 2, seed: int = 0,
) -> Path:
    """Build and save a tiny *kind* model + tokenizer into *path*; return the path."""
    import torch
    import transformers as tf

    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    tok = _tokenizer(kind, vocab_size)
    torch.manual_seed(seed)
    v = len(tok)
    model: tf.PreTrainedModel
    if kind == "gpt2":
        gpt2 = tf.GPT2Config(vocab_size=v, n_positions=512, n_embd=hidden, n_layer=layers, n_head=2,
                             bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                             pad_token_id=tok.pad_token_id)
        model = tf.GPT2LMHeadModel(gpt2)
    elif kind == "t5":
        t5 = tf.T5Config(vocab_size=v, d_model=hidden, d_ff=hidden * 2, d_kv=hidden // 2, num_layers=layers,
                         num_decoder_layers=layers, num_heads=2, pad_token_id=tok.pad_token_id,
                         eos_token_id=tok.eos_token_id)
        t5.decoder_start_token_id = tok.pad_token_id  # not a T5Config parameter: a generation setting
        model = tf.T5ForConditionalGeneration(t5)
    else:  # a classifier gets BertConfig's default two labels
        bert = tf.BertConfig(vocab_size=v, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=2,
                             intermediate_size=hidden * 2, max_position_embeddings=512, pad_token_id=tok.pad_token_id)
        model = tf.BertForSequenceClassification(bert) if kind == "bert-classifier" else tf.BertForMaskedLM(bert)
    model.eval()
    if getattr(model, "generation_config", None) is not None and kind in ("gpt2", "t5"):
        model.generation_config.pad_token_id = tok.pad_token_id
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out
