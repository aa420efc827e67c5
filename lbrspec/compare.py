"""Compare designs on one table of shared properties (``lbrspec compare``).

A *design* is one variant of one model.  Models that take part share a catalogue of
*observations* (``OBSERVATIONS`` in the model module, the very same mapping object in every
one: for the guest LBR models, :data:`lbrspec_models.lbr_common.OBSERVATIONS`): properties
stated once, over ghost variables and terms that the shared part of the models maintains, so a
row of the table means the same thing in every column.  A model builds the ghosts and the
property of an observation only when asked (``build(variant, observe=names)``); one that never
declares an observation gives the reason in ``OBSERVATION_GAPS`` and the cell reads *n.a.*

Each cell is one exhaustive breadth-first run of one design with one observation selected and
every other property of the model left out, so no other property's ghost, pruning or
violation can change it: *holds* (every reachable state explored), *violated* with the length
of the shortest counterexample, *undetermined* (a budget ran out) or *n.a.*
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from .errors import InputError
from .explicit.instance import Instance
from .explicit.vexplore import explore_vector
from .modelref import ModelModule
from .trace import Trace


@dataclass(frozen=True)
class Design:
    """One column: a model and one of its variants."""

    source: ModelModule
    variant: str

    @property
    def label(self) -> str:
        return f"{self.source.name}:{self.variant}"


@dataclass
class Cell:
    """One design's verdict on one observation."""

    status: str  # "holds", "violated", "undetermined" or "n.a."
    trace: Trace | None = None
    reason: str = ""  # why n.a., or why undetermined
    states: int = 0
    seconds: float = 0.0

    @property
    def length(self) -> int | None:
        return len(self.trace) if self.trace is not None else None

    def short(self) -> str:
        if self.status == "violated":
            return f"violated ({self.length})"
        return self.status


@dataclass
class Comparison:
    designs: list[Design]
    observations: Mapping[str, object]  # name -> the model's Observation (title, doc, kind)
    sizes: dict[str, int]
    cells: dict[tuple[str, str], Cell] = field(default_factory=dict)  # (observation, design label) -> cell

    def cell(self, obs: str, design: Design) -> Cell:
        return self.cells[(obs, design.label)]

    def differing(self) -> list[str]:
        """The observations on which the designs do not all give the same status."""
        return [o for o in self.observations
                if len({self.cell(o, d).status for d in self.designs}) > 1]

    @property
    def complete(self) -> bool:
        return all(c.status != "undetermined" for c in self.cells.values())

    def to_json(self) -> dict:
        return {
            "sizes": self.sizes,
            "designs": [{"model": d.source.name, "variant": d.variant, "label": d.label} for d in self.designs],
            "observations": [
                {"name": name, "title": o.title, "doc": o.doc, "kind": o.kind,
                 "cells": {d.label: _cell_json(self.cell(name, d)) for d in self.designs}}
                for name, o in self.observations.items()
            ],
            "differing": self.differing(),
            "complete": self.complete,
        }


def _cell_json(c: Cell) -> dict:
    out: dict = {"status": c.status, "trace_length": c.length}
    if c.reason:
        out["reason"] = c.reason
    if c.status != "n.a.":
        out["states"] = c.states
        out["seconds"] = round(c.seconds, 3)
    return out


def parse_designs(refs: Sequence[str], load: Callable[[str], ModelModule]) -> list[Design]:
    """``MODEL:VARIANT`` (or ``MODEL`` for each of its ``COMPARE_DESIGNS``) to designs."""
    designs: list[Design] = []
    for ref in refs:
        model_ref, sep, variant = ref.rpartition(":") if ":" in ref else (ref, "", "")
        if sep and not variant:
            raise InputError(f"--design {ref!r}: give MODEL:VARIANT or MODEL")
        source = load(model_ref)
        names = [variant] if variant else list(compare_designs(source))
        for name in names:
            if name not in source.all_variants():
                raise InputError(f"--design {ref!r}: model {source.name} has no variant {name!r}; known: "
                                 f"{', '.join(source.all_variants())}")
            d = Design(source, name)
            if d not in designs:
                designs.append(d)
    return designs


def compare_designs(source: ModelModule) -> Sequence[str]:
    """The variants a model puts in the comparison by default (``COMPARE_DESIGNS``, else its
    default variant)."""
    given = getattr(source.module, "COMPARE_DESIGNS", None)
    return tuple(given) if given else (source.variant_name(None),)


def observations_of(designs: Sequence[Design]) -> Mapping[str, object]:
    """The catalogue every design's model shares; an error if one has none or another one."""
    if not designs:
        raise InputError("nothing to compare: give at least one --design")
    first = designs[0].source
    cat = getattr(first.module, "OBSERVATIONS", None)
    if not cat:
        raise InputError(f"model {first.name} takes no part in comparisons (no OBSERVATIONS in its module)")
    for d in designs[1:]:
        other = getattr(d.source.module, "OBSERVATIONS", None)
        if other is not cat:
            raise InputError(f"models {first.name} and {d.source.name} do not share one catalogue of observations "
                             "(their OBSERVATIONS must be the same object, defined once), so their properties cannot "
                             "be compared")
    return cat


def common_sizes(designs: Sequence[Design], given: Mapping[str, int]) -> dict[str, int]:
    """One instance for every design: each sort's size is the smallest of the models' default
    sizes, unless given; every model must have the same sorts."""
    sizes: dict[str, int] | None = None
    for d in designs:
        model = d.source.build(d.variant)
        ds = d.source.default_sizes(model)
        if sizes is None:
            sizes = dict(ds)
        elif set(ds) != set(sizes):
            raise InputError(f"model {d.source.name} has sorts {', '.join(sorted(ds))}, not "
                             f"{', '.join(sorted(sizes))}: designs of models with other sorts cannot share an instance")
        else:
            sizes = {k: min(v, ds[k]) for k, v in sizes.items()}
    assert sizes is not None
    unknown = sorted(set(given) - set(sizes))
    if unknown:
        raise InputError(f"unknown sort(s) {', '.join(unknown)}; the designs' sorts: {', '.join(sorted(sizes))}")
    return {**sizes, **given}


def applicable(design: Design, names: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """The observations the design's model declares, and the reason for each one it does not."""
    model = _build(design, tuple(names))
    declared = {i.name for i in model.invariants}
    gaps = dict(getattr(design.source.module, "OBSERVATION_GAPS", None) or {})
    yes = [n for n in names if n in declared]
    reasons = {n: gaps.get(n, "the model declares no step or state for it in this variant")
               for n in names if n not in declared}
    return yes, reasons


def _build(design: Design, observe: tuple[str, ...]):
    try:
        return design.source.build(design.variant, liveness=True, observe=observe)
    except TypeError as e:  # pragma: no cover - a module whose build takes no observe
        raise InputError(f"model {design.source.name}: build() does not take observe= ({e})") from None


def check_cell(design: Design, obs: str, sizes: Mapping[str, int], *, max_states: int | None = None,
               max_seconds: float | None = None, max_memory: int | None = None, symmetry: bool = True,
               progress=None) -> Cell:
    """One exhaustive run: the design with observation ``obs`` and nothing else checked."""
    model = _build(design, (obs,))
    inv = model.invariant(obs)
    model = dataclasses.replace(model, invariants=(inv,), goals=())
    try:
        inst = Instance(model, dict(sizes))
    except InputError as e:
        raise InputError(f"bad instance size: {e}") from None
    t0 = time.perf_counter()
    r = explore_vector(inst, symmetry=symmetry, max_states=max_states, max_seconds=max_seconds,
                       max_memory=max_memory, check_deadlock=False, stop_at_violation=True,
                       progress=progress, progress_every=0.5)
    secs = time.perf_counter() - t0
    if r.violation is not None:
        return Cell("violated", trace=r.violation.trace, states=r.states, seconds=secs)
    if r.complete:
        return Cell("holds", states=r.states, seconds=secs)
    return Cell("undetermined", reason=r.stop_reason or "a budget ran out", states=r.states, seconds=secs)


def check_only(designs: Sequence[Design], only: Sequence[str]) -> bool:
    """Refuse observation names in ``only`` that no design has; whether ``only`` selects any."""
    cat = observations_of(designs)
    unknown = sorted(set(only) - set(cat))
    if unknown:
        raise InputError(f"unknown observation(s) {', '.join(unknown)}; known: {', '.join(cat)}")
    return bool(only)


def run(designs: Sequence[Design], sizes: Mapping[str, int], *, only: Sequence[str] = (),
        on_cell: Callable[[str, Design, Cell], None] | None = None, **budgets) -> Comparison:
    """Every design on every observation (or those in ``only``)."""
    cat = observations_of(designs)
    names = [n for n in cat if n in only] if check_only(designs, only) else list(cat)
    cmp = Comparison(list(designs), {n: cat[n] for n in names}, dict(sizes))
    for d in designs:
        yes, reasons = applicable(d, names)
        for n in names:
            c = check_cell(d, n, sizes, **budgets) if n in yes else Cell("n.a.", reason=reasons[n])
            cmp.cells[(n, d.label)] = c
            if on_cell is not None:
                on_cell(n, d, c)
    return cmp
