"""Model lineage: what a model is made from, so a model with no figure of its own can be rated through it.

Lineage comes from (1) the shipped tables: ``scer_hf/data/lineage.csv`` (curated edges, every one sourced, see
SOURCES.md) over the parameter index ``model_parameters.csv`` (each indexed model, with the Hub's base-model tag where
it has one), (2) when online, the Hub card's ``base_model`` and relation plus the parameter count of the Hub's
safetensors metadata (:func:`hub_node`, never raises, bounded wait) and (3) a local model folder
(``rating/local.py``). Model ids are resolved through the alias table (renamed repos) first.

Two rules use it (``rating/engine.py``):

* **training, inherited**: a model with no training figure gets the pre-training rating of the nearest ancestor
  reached through ``finetune``/``adapter``/``quantized`` edges (a ``distilled`` model was trained anew, a ``merge``
  has several parents: neither inherits);
* **inference, architecture twin**: a model with no inference figure gets the published figure of a model in the
  same fine-tune tree (its base, a fine-tune of it, or a fine-tune of the same base) with the same architecture
  (config ``model_type``) and a parameter count within :data:`PARAM_TOLERANCE`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from . import aliases as _ali
from . import index as _idx
from . import reference as _ref
from .hub import HubLookup, card_field, file_names, model_info, safetensors_total
from .hubrecords import NodeInfo

__all__ = [
    "Node", "Lineage", "HubLineage", "shipped", "graph", "hub_node", "with_hub", "inherited_label", "twin_label",
    "relation_phrase", "INHERITS", "TWIN_EDGES", "PARAM_TOLERANCE", "LINEAGE_FILE", "RELATIONS",
]

LINEAGE_FILE = "lineage.csv"
INHERITS = frozenset({"finetune", "adapter", "quantized"})  # edges that keep the base's pre-training
TWIN_EDGES = frozenset({"finetune"})  # edges that keep the architecture and the weights' shapes
PARAM_TOLERANCE = 0.02  # relative: a classification head on a 66M encoder is ~1 %
MAX_DEPTH = 8
RELATIONS = frozenset({"pretrained", "finetune", "adapter", "quantized", "merge", "distilled"})
_QUANT_TAGS = frozenset({"gguf", "gptq", "awq", "bitsandbytes", "4-bit", "8-bit", "fp8", "exl2", "compressed-tensors"})


@dataclass(frozen=True)
class Node:
    """One model: its base (None for a root), the relation to it, architecture, parameters and where from."""

    model_id: str
    base_model: str | None = None
    relation: str = "pretrained"
    architecture: str | None = None
    params_b: float | None = None
    source: str = ""
    notes: str = ""
    origin: str = ""  # "lineage.csv#3", "Hub", "local folder"

    def to_dict(self) -> dict[str, Any]:
        return self.info().to_dict()

    def info(self) -> NodeInfo:
        """The node as a rating carries it (``Rating.lineage.node``), with its relation in words."""
        return NodeInfo(model_id=self.model_id, base_model=self.base_model, relation=self.relation,
                        architecture=self.architecture, params_b=self.params_b, source=self.source,
                        notes=self.notes, origin=self.origin, description=relation_phrase(self))


def _base(text: str | None) -> str | None:
    """The current id of a base model; several bases of a merge stay joined by ``|``."""
    names = [_ali.canonical(n.strip()) for n in (text or "").split("|") if n.strip()]
    return "|".join(names) or None


def _index_node(e: _idx.Entry) -> Node:
    base = _base(e.base_model)
    return Node(model_id=e.model_id, base_model=base, relation=e.relation or ("finetune" if base else "pretrained"),
                architecture=e.architecture, params_b=e.params_b, source=e.source, notes=e.notes, origin=e.ref)


@functools.lru_cache(maxsize=1)
def shipped() -> dict[str, Node]:
    """The shipped lineage, keyed by lower-case current id: every indexed model, then ``lineage.csv`` over it.

    A ``lineage.csv`` row without a parameter count or architecture takes them from the index (the note says so).
    """
    out = {key: _index_node(e) for key, e in _idx.table().items()}
    for i, r in enumerate(_ref._read_csv(str(_ref.data_dir() / LINEAGE_FILE))[1], start=1):
        node = _lineage_node(r, i)
        if node is not None:
            out[_ali.canonical(node.model_id).lower()] = node
    return out


def _lineage_node(r: Mapping[str, str], i: int) -> Node | None:
    """Row *i* of ``lineage.csv``; a missing parameter count or architecture comes from the index (noted)."""
    mid = _cell(r, "model_id")
    if not mid:
        return None
    params, arch, notes = _filled(mid, _ref._num(r.get("params_b")), _cell(r, "architecture").lower() or None,
                                  _cell(r, "notes"))
    return Node(model_id=mid, base_model=_base(r.get("base_model")),
                relation=_cell(r, "relation") or "pretrained", architecture=arch, params_b=params,
                source=_cell(r, "source"), notes=notes, origin=f"{LINEAGE_FILE}#{i}")


def _cell(r: Mapping[str, str], column: str) -> str:
    """A row's cell, stripped ("" when missing or empty)."""
    return (r.get(column) or "").strip()


def _filled(mid: str, params: float | None, arch: str | None, notes: str) -> tuple[float | None, str | None, str]:
    """A row's parameters and architecture, the index's where the row has none (and the note says so)."""
    entry = _idx.lookup(mid)
    if entry is None or (params is not None and arch is not None):
        return params, arch, notes
    notes = "; ".join(x for x in (notes, f"parameters and architecture: {entry.ref}") if x)
    return (params if params is not None else entry.params_b), (arch or entry.architecture), notes


class Lineage:
    """A lineage graph: the shipped table plus nodes learnt at run time (Hub, local folder)."""

    def __init__(self, nodes: Mapping[str, Node]) -> None:
        self.nodes = dict(nodes)
        self.children: dict[str, list[str]] = {}
        for key, n in self.nodes.items():
            if n.base_model:
                self.children.setdefault(n.base_model.lower(), []).append(key)

    def with_node(self, node: Node) -> Lineage:
        return Lineage({**self.nodes, _ali.canonical(node.model_id).lower(): node})

    def node(self, model_id: str) -> Node | None:
        return self.nodes.get(_ali.canonical(model_id).lower())

    def ancestors(self, model_id: str, relations: Iterable[str] = INHERITS) -> list[tuple[str, list[Node]]]:
        """``[(ancestor_id, [edges from the model up to it])]``, nearest first, through *relations* only."""
        rel, seen = frozenset(relations), {model_id.lower()}
        out: list[tuple[str, list[Node]]] = []
        chain: list[Node] = []
        cur = self.node(model_id)
        while cur is not None and cur.base_model and cur.relation in rel and len(chain) < MAX_DEPTH:
            chain = [*chain, cur]
            base = cur.base_model
            if base.lower() in seen:
                break
            seen.add(base.lower())
            out.append((base, chain))
            cur = self.node(base)
        return out

    def twins(self, model_id: str, params_of: Callable[[str], float | None]) -> list[tuple[str, str]]:
        """``[(twin_id, how it is related)]``: same fine-tune tree, same architecture, parameters within tolerance."""
        me = self.node(model_id)
        if me is None or not me.architecture:
            return []
        mine = _param_count(me, params_of)
        if not mine:
            return []
        root, up_ids = self._fine_tune_root(model_id, me)
        my_key = _ali.canonical(model_id).lower()
        return [(n.model_id, self._kinship(key, n, me, my_key, up_ids, root)) for key, n in self._tree(root)
                if key != my_key and _same_build(me, mine, n, _param_count(n, params_of))]

    def _fine_tune_root(self, model_id: str, me: Node) -> tuple[str, set[str]]:
        """(the root of the model's fine-tune tree, the lower-cased ids of its ancestors up to it)."""
        up = self.ancestors(model_id, TWIN_EDGES)
        return (up[-1][0] if up else me.model_id), {a.lower() for a, _ in up}

    def _tree(self, root: str) -> list[tuple[str, Node]]:
        """(key, node) of *root*'s fine-tune tree (through :data:`TWIN_EDGES`), breadth first, each once."""
        todo, seen, out = [root.lower()], set(), []
        while todo:
            key = todo.pop(0)
            if key in seen:
                continue
            seen.add(key)
            todo += [c for c in self.children.get(key, []) if self.nodes[c].relation in TWIN_EDGES]
            if key in self.nodes:
                out.append((key, self.nodes[key]))
        return out

    def _kinship(self, key: str, n: Node, me: Node, my_key: str, up_ids: set[str], root: str) -> str:
        """How twin *n* is related to *me*: its base, its fine-tune, or a sibling under *root*."""
        if key in up_ids:
            return "its base model"
        if any(a.lower() == my_key for a, _ in self.ancestors(n.model_id, TWIN_EDGES)):
            return f"a fine-tune of {me.model_id}"
        return f"a fine-tune of the same base model {root}"


def _param_count(n: Node, params_of: Callable[[str], float | None]) -> float | None:
    """A node's parameter count in billions: its own, else what *params_of* finds."""
    return n.params_b if n.params_b is not None else params_of(n.model_id)


def _same_build(me: Node, mine: float, n: Node, theirs: float | None) -> bool:
    """Whether *n* is built like *me*: the same architecture and a parameter count within :data:`PARAM_TOLERANCE`."""
    if not theirs or n.architecture != me.architecture:
        return False
    return abs(theirs - mine) <= PARAM_TOLERANCE * max(theirs, mine)


def with_hub(shipped_node: Node | None, hub: Node) -> Node:
    """A shipped node updated by what the Hub says now: its safetensors count wins over the index's; its card's
    base model wins over an index edge (a curated ``lineage.csv`` edge is kept)."""
    if shipped_node is None:
        return hub
    curated = shipped_node.origin.startswith(LINEAGE_FILE)
    use_hub_edge = bool(hub.base_model) and not curated
    return Node(model_id=shipped_node.model_id,
                base_model=hub.base_model if use_hub_edge else shipped_node.base_model,
                relation=hub.relation if use_hub_edge else shipped_node.relation,
                architecture=hub.architecture or shipped_node.architecture,
                params_b=hub.params_b if hub.params_b is not None else shipped_node.params_b,
                source=f"{hub.source}; shipped: {shipped_node.origin}: {shipped_node.source}",
                notes=shipped_node.notes, origin=f"Hub (over {shipped_node.origin})")


def graph(extra: Iterable[Node] = ()) -> Lineage:
    g = Lineage(shipped())
    for n in extra:
        g = g.with_node(n)
    return g


def inherited_label(base: str, relation: str = "finetune", chain: Sequence[Node] = ()) -> str:
    """How an inherited training rating is labelled; a quantized copy and an adapter say what they are.

    *chain*: the edges from the rated model up to *base*. A chain that is not quantized all the way (a quantized
    copy of an instruct model, say) names the model the repo is a copy of and keeps the fine-tuning caveat.
    """
    rels = [n.relation for n in chain] or [relation]
    if all(r == "quantized" for r in rels):
        return (f"inherited from base model {base}: this repo is a quantized copy of it, so it has the same "
                "pre-training; quantizing is not training")
    own = "adapter training" if rels[0] == "adapter" else "fine-tuning"
    if rels[0] == "quantized":
        return (f"inherited from base model {base}: the pre-training it was built on (this repo is a quantized copy of "
                f"{chain[0].base_model}); fine-tuning is not included")
    return f"inherited from base model {base}: the pre-training it was built on; its own {own} is not included"


def twin_label(twin: str) -> str:
    return f"architecture twin: {twin}"


_PHRASE = {"finetune": "a fine-tune of", "quantized": "a quantized version of", "adapter": "an adapter on",
           "distilled": "distilled from", "merge": "a merge including"}


def relation_phrase(n: Node) -> str:
    """"a quantized version of X", "a merge including X, Y", "a pre-trained model"."""
    if not n.base_model:
        return "a pre-trained model"
    return f"{_PHRASE.get(n.relation, f'a {n.relation} of')} {n.base_model.replace('|', ', ')}"


def edge_source(n: Node) -> str:
    return f"lineage: {n.model_id} is {relation_phrase(n)} ({n.origin}: {n.source})"


# -- the Hub ----------------------------------------------------------------------------------
def _names(x: Any) -> list[str]:
    items = x if isinstance(x, (list, tuple)) else [x]
    return [i.strip() for i in items if isinstance(i, str) and i.strip()]


def _hub_relation(card_relation: Any, tags: list[str], bases: list[str], siblings: list[str], cfg: Any) -> str:
    """The relation of a Hub model to its base: the card's ``base_model_relation``, else the Hub's own
    ``base_model:<relation>:<id>`` tag, else what the repo shows (several bases: a merge; GGUF files, a
    ``quantization_config`` or a quantization library tag: quantized), else a fine-tune."""
    stated = _stated_relation(card_relation, tags)
    if stated:
        return stated
    if len(bases) > 1:
        return "merge"
    return "quantized" if _looks_quantized(tags, siblings, cfg) else "finetune"


def _stated_relation(card_relation: Any, tags: list[str]) -> str | None:
    """The first known relation the card's ``base_model_relation`` or a ``base_model:<relation>:<id>`` tag states."""
    tagged = [t.split(":", 2)[1] for t in tags if t.startswith("base_model:") and t.count(":") >= 2]
    return next((rel for rel in _names(card_relation) + tagged if rel in RELATIONS), None)


def _looks_quantized(tags: list[str], siblings: list[str], cfg: Any) -> bool:
    """Whether a repo shows quantized weights: GGUF files, a quantization library tag or a ``quantization_config``."""
    return bool(any(f.lower().endswith(".gguf") for f in siblings) or _QUANT_TAGS & {t.lower() for t in tags}
                or (isinstance(cfg, dict) and cfg.get("quantization_config")))


@dataclass(frozen=True)
class HubLineage:
    """What a Hub model info says of lineage: the base models, the relation to them, the safetensors count and the
    model type."""

    bases: tuple[str, ...]
    relation: str | None
    total: int | None  # the safetensors total (checked by rating.hub)
    arch: str | None  # config.model_type

    @property
    def parameter_total(self) -> int | None:
        """The safetensors total as a parameter count: not for a quantized repo, whose total counts packed
        tensors."""
        return self.total if self.relation != "quantized" else None

    def info(self) -> dict[str, Any]:
        """The ``lineage.hub`` block of a rating: checked, base model, relation, parameters, architecture."""
        return {"checked": True, "base_model": "|".join(self.bases) or None, "relation": self.relation,
                "parameters": self.total, "architecture": self.arch}


def _hub_fields(hub_info: Any) -> HubLineage:
    """What a Hub model info says of lineage (:class:`HubLineage`)."""
    cfg = getattr(hub_info, "config", None) or {}
    bases = [_ali.canonical(b) for b in _names(card_field(hub_info, "base_model"))]
    rel = _hub_relation(card_field(hub_info, "base_model_relation"), _hub_tags(hub_info), bases,
                        file_names(hub_info), cfg) if bases else None
    total, arch = safetensors_total(hub_info), cfg.get("model_type") if isinstance(cfg, dict) else None
    return HubLineage(bases=tuple(bases), relation=rel, total=total if isinstance(total, int) else None,
                      arch=arch if isinstance(arch, str) else None)


def _hub_tags(hub_info: Any) -> list[str]:
    return [t for t in (getattr(hub_info, "tags", None) or []) if isinstance(t, str)]


def hub_node(model_id: str, timeout_s: float = 3.0,
             lookup: HubLookup | None = None) -> tuple[Node | None, dict[str, Any]]:
    """``(Node or None, info)`` from the Hub card's ``base_model`` (and relation) and the safetensors count.

    A quantized repo's safetensors total counts packed tensors, not parameters: it is not used as one.
    Never raises; returns within ``timeout_s`` (+0.5 s); skipped at once when ``HF_HUB_OFFLINE`` is set.
    *lookup*: the result of :func:`scer_hf.rating.hub.model_info` already made for this model.
    """
    hub_info, status = lookup if lookup is not None else model_info(model_id, timeout_s)
    if not status.get("checked"):
        return None, dict(status)
    try:
        box = _hub_fields(hub_info)
    except Exception as exc:  # noqa: BLE001 - an optional lookup must never break rating
        return None, {"checked": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    base = "|".join(box.bases) or None
    total = box.parameter_total
    if not base and not total:
        return None, box.info()
    return _hub_built_node(model_id, base, box, total), box.info()


def _hub_built_node(model_id: str, base: str | None, box: HubLineage, total: int | None) -> Node:
    """The node of a Hub model from its fields (:func:`_hub_fields`) and the parameter total to use."""
    return Node(model_id=model_id, base_model=base, relation=box.relation or "pretrained",
                architecture=(str(box.arch).lower() if box.arch else None),
                params_b=(total / 1e9 if total else None), source=_hub_source(model_id, base, box.relation, total),
                origin="Hub")


def _hub_source(model_id: str, base: str | None, relation: str | None, total: Any) -> str:
    """Where a Hub node comes from: the card's base model and relation, the safetensors count."""
    url = f"https://huggingface.co/{model_id}"
    return "; ".join(s for s in (
        f"{url} (card metadata base_model: {base.replace('|', ', ')}; relation: {relation})" if base else "",
        f"Hub safetensors metadata: {total:,} parameters" if total else "") if s)
