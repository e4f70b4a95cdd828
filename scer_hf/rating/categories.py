"""SCER software categorization for language models: phase, task, size, hardware, setting.

A rating only compares figures inside one category. Size classes are AI Energy
Score's text-generation classes (hf_ecosystem.md §1.4/§6: A <= 20B, B <= 66B,
C > 66B parameters); hardware classes are coarse accelerator families read from the
free-text hardware field of the reference data.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ..errors import ModelIdError, UnknownTaskError

__all__ = [
    "SIZE_CLASS_LIMITS_B",
    "AIES_TASKS",
    "OTHER_TASKS",
    "size_class",
    "hardware_class",
    "normalize_task",
    "aies_task",
    "validate_model_id",
    "suggest_task",
]

# AI Energy Score v1 text-generation classes, in billions of parameters (hf_ecosystem.md §6:
# "class A/B/C (<=20B, <=66B, >66B params at FP16)").
SIZE_CLASS_LIMITS_B = (("A", 20.0), ("B", 66.0))

# Hugging Face pipeline tag -> AI Energy Score v1 task name (aienergyscore_v1.csv columns
# hf_pipeline_tag and task; the ten v1 leaderboard files).
AIES_TASKS: dict[str, str] = {
    "text-generation": "text_generation",
    "summarization": "summarization",
    "question-answering": "extractive_question_answering",
    "text-classification": "binary_text_classification",
    "sentence-similarity": "semantic_sentence_similarity",
    "image-classification": "image_classification",
    "object-detection": "object_detection",
    "automatic-speech-recognition": "automatic_speech_recognition",
    "text-to-image": "image_generation",
    "image-to-text": "image_captioning",
}

# Valid Hugging Face tasks that have no AI Energy Score v1 reference group: rated with no peers.
OTHER_TASKS = frozenset({
    "fill-mask", "feature-extraction", "token-classification", "zero-shot-classification",
    "text2text-generation", "translation", "table-question-answering", "conversational",
    "audio-classification", "image-segmentation", "zero-shot-image-classification",
    "image-text-to-text", "visual-question-answering", "text-to-speech", "depth-estimation",
})

_ALIASES = {v: k for k, v in AIES_TASKS.items()} | {
    "text_generation": "text-generation", "chat": "text-generation", "extractive_qa": "question-answering",
    "asr": "automatic-speech-recognition", "image_generation": "text-to-image",
    "image_captioning": "image-to-text", "text_classification": "text-classification",
}


def normalize_task(task: str) -> str:
    """A Hugging Face pipeline tag for *task* (tag, AI Energy Score name or alias).

    Raises :class:`UnknownTaskError` listing the accepted tasks.
    """
    t = str(task).strip().lower().replace(" ", "-")
    if t in AIES_TASKS or t in OTHER_TASKS:
        return t
    alias = _ALIASES.get(t) or _ALIASES.get(t.replace("-", "_"))
    if alias:
        return alias
    raise UnknownTaskError(
        f"unknown task {task!r}; use a Hugging Face pipeline tag. Rated against AI Energy Score v1: "
        f"{', '.join(sorted(AIES_TASKS))}; accepted without reference peers: {', '.join(sorted(OTHER_TASKS))}"
    )


def aies_task(pipeline_tag: str) -> str | None:
    """The AI Energy Score v1 task name of a pipeline tag, or None if v1 has no such task."""
    return AIES_TASKS.get(pipeline_tag)


def size_class(params_b: float | None) -> str | None:
    """AI Energy Score class A/B/C from billions of parameters (None if unknown)."""
    if params_b is None:
        return None
    for name, limit in SIZE_CLASS_LIMITS_B:
        if params_b <= limit:
            return name
    return "C"


_HW = (  # (pattern, class) - first match wins; order matters (H100 before A100 ...)
    (r"\bH100\b", "NVIDIA H100"), (r"\bH200\b", "NVIDIA H200"), (r"\bB200\b", "NVIDIA B200"),
    (r"\bA100\b", "NVIDIA A100"), (r"\bV100\b", "NVIDIA V100"), (r"\bMI250X?\b", "AMD MI250X"),
    (r"TPU\s*v3", "Google TPU v3"), (r"TPU\s*v4", "Google TPU v4"), (r"\bTPUs?\b", "Google TPU"),
    (r"\bcpu\b", "CPU"),
)


def hardware_class(hardware: str | None) -> str:
    """Accelerator family of a free-text hardware description ("unknown" when it names none)."""
    text = (hardware or "").strip()
    for pattern, name in _HW:
        if re.search(pattern, text, re.IGNORECASE):
            return name
    return "unknown" if not text or text.lower() == "undisclosed" else "other"


# Hub repo ids: "name" or "namespace/name"; letters, digits, '-', '_', '.'; no '--' or '..';
# at most 96 characters per part (huggingface_hub validate_repo_id rules).
_PART = r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9_])?"
_REPO_ID = re.compile(rf"^(?:{_PART}/)?{_PART}$")


def validate_model_id(model_id: str) -> str:
    """Return *model_id* stripped, or raise :class:`ModelIdError` saying what is wrong."""
    if not isinstance(model_id, str) or not model_id.strip():
        raise ModelIdError(f"a model id must be a non-empty string like 'org/model', got {model_id!r}")
    mid = model_id.strip()
    if not _REPO_ID.match(mid) or "--" in mid or ".." in mid:
        raise ModelIdError(
            f"malformed model id {model_id!r}: expected 'name' or 'org/name' (letters, digits, '-', '_', '.'; "
            "no spaces, at most one '/'), e.g. 'bigscience/bloom-560m'; to rate a report, pass its path"
        )
    return mid


# Architecture / id hints -> a task the model can do (for the "measure it" command).
_ARCH_TASKS = (
    ("ForCausalLM", "text-generation"), ("LMHeadModel", "text-generation"),
    ("ForMaskedLM", "fill-mask"), ("ForSequenceClassification", "text-classification"),
    ("ForQuestionAnswering", "question-answering"), ("ForTokenClassification", "token-classification"),
    ("ForSpeechSeq2Seq", "automatic-speech-recognition"), ("ForCTC", "automatic-speech-recognition"),
    ("ForImageClassification", "image-classification"), ("ForObjectDetection", "object-detection"),
    ("ForConditionalGeneration", "text2text-generation"),
)
_ID_TASKS = (  # (pattern on the lower-case id, task), first match wins
    (r"sentence-transformers/|minilm-l\d|mpnet|\bbge-|\be5-|\bgte-|embed|\bgist-", "sentence-similarity"),
    (r"whisper|wav2vec2|hubert", "automatic-speech-recognition"),
    (r"squad", "question-answering"), (r"sst-?2|sentiment|imdb|emotion", "text-classification"),
    (r"\bvit-|resnet|convnext|swin|efficientnet|mobilenet", "image-classification"),
    (r"flan-t5|\bt5-|\bbart|pegasus", "text2text-generation"),
    (r"distilbert|roberta|deberta|electra|albert|\bbert", "fill-mask"),
)


def suggest_task(model_id: str | None, pipeline_tag: str | None = None,
                 architectures: list[str] | tuple[str, ...] | None = None) -> str:
    """A task *model_id* can do: its pipeline tag, else from its architecture or id; text-generation last."""
    return (_task_of_tag(pipeline_tag) or _task_of_architectures(architectures or ()) or _task_of_id(model_id)
            or "text-generation")


def _task_of_tag(pipeline_tag: str | None) -> str | None:
    """The task a pipeline tag names, when it is one we know."""
    if not pipeline_tag:
        return None
    try:
        return normalize_task(pipeline_tag)
    except UnknownTaskError:
        return None


def _task_of_architectures(architectures: Iterable[str]) -> str | None:
    """The task of the first architecture whose class name says one (a bare encoder ``...Model``: embeddings)."""
    for arch in architectures:
        task = next((task for suffix, task in _ARCH_TASKS if suffix in arch), None)
        if task:
            return task
        if arch.endswith("Model"):  # a bare encoder (BertModel, MPNetModel): embeddings
            return "feature-extraction"
    return None


def _task_of_id(model_id: str | None) -> str | None:
    """The task a model id's name suggests (``_ID_TASKS``, first match)."""
    mid = (model_id or "").lower()
    return next((task for pattern, task in _ID_TASKS if re.search(pattern, mid)), None)
