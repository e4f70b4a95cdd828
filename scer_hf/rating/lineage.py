"""Model lineage: what a model is made from, so a model with no figure of its own can be rated through it.

Lineage comes from (1) the shipped table ``scer_hf/data/lineage.csv`` (every edge sourced, see SOURCES.md),
(2) when online, the Hub card's ``base_model`` plus the parameter count of the Hub's safetensors metadata
(:func:`hub_node`, never raises, bounded wait) and (3) a local model folder (``rating/local.py``).

Two rules use it (``rating/engine.py``):

* **training, inherited**: a model with no training figure gets the pre-training rating of the nearest ancestor
  reached through ``finetune``/``adapter``/``quantized`` edges (a ``distilled`` model was trained anew: no);
* **inference, architecture twin**: a model with no inference figure gets the published figure of a model in the
  same fine-tune tree (its base, a fine-tune of it, or a fine-tune of the same base) with the same architecture
  (config ``model_type``) and a parameter count within :data:`PARAM_TOLERANCE`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

from . import reference as _ref
from .hub import card_field, model_info

__all__ = [
    "Node", "Lineage", "shipped", "graph", "hub_node", "inherited_label", "twin_label",
    "INHERITS", "TWIN_EDGES", "PARAM_TOLERANCE", "LINEAGE_FILE",
]

LINEAGE_FILE = "lineage.csv"
INHERITS = frozenset({"finetune", "adapter", "quantized"})  # edges that keep the base's pre-training
TWIN_EDGES = frozenset({"finetune"})  # edges that keep the architecture and the weights' shapes
PARAM_TOLERANCE = 0.02  # relative: a classification head on a 66M encoder is ~1 %
MAX_DEPTH = 8


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
        return {"model_id": self.model_id, "base_model": self.base_model, "relation": self.relation,
                "architecture": self.architecture, "params_b": self.params_b, "source": self.source,
                "notes": self.notes, "origin": self.origin}


@functools.lru_cache(maxsize=1)
def shipped() -> dict[str, Node]:
    """The shipped lineage table, keyed by lower-case model id."""
    path = _ref.data_dir() / LINEAGE_FILE
    out: dict[str, Node] = {}
    for i, r in enumerate(_ref._read_csv(str(path))[1], start=1):
        mid = (r.get("model_id") or "").strip()
        if not mid:
            continue
        out[mid.lower()] = Node(
            model_id=mid, base_model=(r.get("base_model") or "").strip() or None,
            relation=(r.get("relation") or "").strip() or "pretrained",
            architecture=(r.get("architecture") or "").strip().lower() or None,
            params_b=_ref._num(r.get("params_b")), source=(r.get("source") or "").strip(),
            notes=(r.get("notes") or "").strip(), origin=f"{LINEAGE_FILE}#{i}",
        )
    return out


class Lineage:
    """A lineage graph: the shipped table plus nodes learnt at run time (Hub, local folder)."""

    def __init__(self, nodes: Mapping[str, Node]) -> None:
        self.nodes = dict(nodes)
        self.children: dict[str, list[str]] = {}
        for key, n in self.nodes.items():
            if n.base_model:
                self.children.setdefault(n.base_model.lower(), []).append(key)

    def with_node(self, node: Node) -> "Lineage":
        return Lineage({**self.nodes, node.model_id.lower(): node})

    def node(self, model_id: str) -> Node | None:
        return self.nodes.get(model_id.lower())

    def ancestors(self, model_id: str, relations: Iterable[str] = INHERITS) -> list[tuple[str, list[Node]]]:
        """``[(ancestor_id, [edges from the model up to it])]``, nearest first, through *relations* only."""
        rel, out, chain, seen = frozenset(relations), [], [], {model_id.lower()}
        cur = self.node(model_id)
        while cur is not None and cur.base_model and cur.relation in rel and len(chain) < MAX_DEPTH:
            chain = chain + [cur]
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
        mine = me.params_b if me.params_b is not None else params_of(me.model_id)
        if not mine:
            return []
        up = self.ancestors(model_id, TWIN_EDGES)
        root = up[-1][0] if up else me.model_id
        up_ids = {a.lower() for a, _ in up}
        out: list[tuple[str, str]] = []
        todo, seen = [root.lower()], set()
        while todo:
            key = todo.pop(0)
            if key in seen:
                continue
            seen.add(key)
            todo += [c for c in self.children.get(key, []) if self.nodes[c].relation in TWIN_EDGES]
            if key == model_id.lower():
                continue
            n = self.nodes.get(key)
            if n is None or n.architecture != me.architecture:
                continue
            theirs = n.params_b if n.params_b is not None else params_of(n.model_id)
            if not theirs or abs(theirs - mine) > PARAM_TOLERANCE * max(theirs, mine):
                continue
            if key in up_ids:
                how = "its base model"
            elif any(a.lower() == model_id.lower() for a, _ in self.ancestors(n.model_id, TWIN_EDGES)):
                how = f"a fine-tune of {me.model_id}"
            else:
                how = f"a fine-tune of the same base model {root}"
            out.append((n.model_id, how))
        return out


def graph(extra: Iterable[Node] = ()) -> Lineage:
    g = Lineage(shipped())
    for n in extra:
        g = g.with_node(n)
    return g


def inherited_label(base: str) -> str:
    return f"inherited from base model {base}: the pre-training it was built on; its own fine-tuning is not included"


def twin_label(twin: str) -> str:
    return f"architecture twin: {twin}"


_PHRASE = {"finetune": "a fine-tune of", "quantized": "a quantized version of", "adapter": "an adapter on",
           "distilled": "distilled from", "merge": "a merge including"}


def edge_source(n: Node) -> str:
    rel = f"{_PHRASE.get(n.relation, f'a {n.relation} of')} {n.base_model}" if n.base_model else "a pre-trained model"
    return f"lineage: {n.model_id} is {rel} ({n.origin}: {n.source})"


# -- the Hub ----------------------------------------------------------------------------------
def _first(x: Any) -> str | None:
    if isinstance(x, (list, tuple)):
        x = x[0] if x else None
    return x.strip() if isinstance(x, str) and x.strip() else None


def hub_node(model_id: str, timeout_s: float = 3.0,
             lookup: tuple[Any, dict[str, Any]] | None = None) -> tuple[Node | None, dict[str, Any]]:
    """``(Node or None, info)`` from the Hub card's ``base_model`` and the safetensors parameter count.

    Never raises; returns within ``timeout_s`` (+0.5 s); skipped at once when ``HF_HUB_OFFLINE`` is set.
    *lookup*: the result of :func:`scer_hf.rating.hub.model_info` already made for this model.
    """
    hub_info, status = lookup if lookup is not None else model_info(model_id, timeout_s)
    if not status.get("checked"):
        return None, dict(status)
    box: dict[str, Any] = {}
    try:
        st = getattr(hub_info, "safetensors", None)
        cfg = getattr(hub_info, "config", None) or {}
        box.update(base=_first(card_field(hub_info, "base_model")),
                   relation=_first(card_field(hub_info, "base_model_relation")),
                   total=getattr(st, "total", None) if st is not None else None,
                   arch=(cfg.get("model_type") if isinstance(cfg, dict) else None))
    except Exception as exc:  # noqa: BLE001 - an optional lookup must never break rating
        return None, {"checked": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    info = {"checked": True, "base_model": box.get("base"), "parameters": box.get("total"),
            "architecture": box.get("arch")}
    if not box.get("base") and not box.get("total"):
        return None, info
    url = f"https://huggingface.co/{model_id}"
    src = "; ".join(s for s in (
        f"{url} (card metadata base_model: {box['base']})" if box.get("base") else "",
        f"Hub safetensors metadata: {box['total']:,} parameters" if box.get("total") else "") if s)
    rel = (box.get("relation") or "finetune") if box.get("base") else "pretrained"
    node = Node(model_id=model_id, base_model=box.get("base"), relation=rel,
                architecture=(str(box["arch"]).lower() if box.get("arch") else None),
                params_b=(box["total"] / 1e9 if box.get("total") else None), source=src, origin="Hub")
    return node, info

