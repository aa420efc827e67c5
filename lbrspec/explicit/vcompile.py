"""Compiling a model instance to numpy code over batches of packed states.

The same partial evaluation as :mod:`lbrspec.explicit.compile` (parameters fixed, quantifiers
unrolled, constants folded), written for arrays: a batch of states is a slot matrix ``S``
(slots x states, int64), a guard becomes a boolean array, and an action's updates become one
int64 *delta per word* of the packing (:mod:`lbrspec.explicit.packing`), so a successor's
packed words are its parent's plus the delta.  Boolean slots are read as ``S[k] == 1`` so that
``~``, ``&`` and ``|`` are logical on every boolean expression.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..errors import EvaluationError
from ..lang.domains import BoolDomain, RangeDomain
from ..lang.expr import Assign, AssignAll, expand
from .compile import ActionInstance, Frag, _Gen, _text, goal_instances
from .evaluate import out_of_range
from .instance import Instance
from .packing import Layout


class _NpGen(_Gen):
    """Residual operations on numpy arrays.  ``S`` is the slot matrix of a batch; a guard reads
    whole rows (``AR`` is the column range), an update reads only the columns ``I`` of the
    states the action is enabled in."""

    def __init__(self, inst: Instance) -> None:
        super().__init__(inst, "S")
        self.subset = False

    def fmt_read(self, slot: str, var) -> str:
        if self.subset:
            ref = f"S[{slot}, I]"
        else:
            ref = f"S[{slot}]" if slot.isdigit() else f"S[{slot}, AR]"
        return f"({ref} == 1)" if isinstance(var.dom, BoolDomain) else ref

    def fmt_not(self, a: str) -> str:
        return f"np.logical_not({a})"  # not ~: an ite with a constant branch is an int array

    def fmt_junction(self, is_and: bool, parts: list[str]) -> str:
        return "(" + (" & " if is_and else " | ").join(parts) + ")"

    def fmt_ite(self, c: str, t: str, f: str) -> str:
        return f"np.where({c}, {t}, {f})"

    def fmt_range(self, x: str, lo: int, hi: int) -> str:
        return f"(({lo} <= {x}) & ({x} < {hi}))"


@dataclass
class VecAction:
    """One action instance: its guard over a batch and its per-word deltas."""

    index: int
    instance: ActionInstance
    guard: Callable[[np.ndarray, np.ndarray], object]  # (S, AR) -> bool array or Python bool
    delta: Callable[[np.ndarray, np.ndarray], list[object]]  # (S, I) -> per word: int64 array or 0
    never: bool  # the guard folds to false


@dataclass
class VecCompiled:
    instance: Instance
    layout: Layout
    actions: list[VecAction]
    invariants: list[Callable[[np.ndarray, np.ndarray], object]]
    state_goals: list[tuple[int, tuple[int, ...], Callable[[np.ndarray, np.ndarray], object]]]
    step_goals: dict[int, list[tuple[int, Callable[[np.ndarray, np.ndarray], object]]]]
    source: str


def _range_checker(action: str, var: str, lo: int, hi: int) -> Callable[[object], object]:
    def chk(v: object) -> object:
        a = np.asarray(v)
        if a.size and (a.min() < lo or a.max() > hi):
            bad = int(a.min()) if a.min() < lo else int(a.max())
            raise EvaluationError(out_of_range(action, var, bad, f"{lo}..{hi}"))
        return v

    return chk


def compile_vector(inst: Instance, layout: Layout | None = None, actions: list[ActionInstance] | None = None) -> VecCompiled:
    """Generate the numpy functions for ``inst`` (action instances in the same order as
    :func:`lbrspec.explicit.compile.compile_instance`)."""
    model = inst.model
    lay = layout or Layout.of(inst)
    gen = _NpGen(inst)
    ns: dict[str, object] = {"np": np, "WT": lay.weight}
    lines: list[str] = []
    if actions is None:
        actions = []
        for a in model.actions:
            for b in inst.bindings(a.params):
                actions.append(ActionInstance(len(actions), a, b))
    vec: list[tuple[ActionInstance, bool]] = []
    for ai in actions:
        a = ai.action
        env = dict(zip(a.params, ai.params))
        g = gen.expr(a.guard_x, env)
        never = g[0] and not g[1]
        vec.append((ai, never))
        lines.append(f"def guard_{ai.index}(S, AR):")
        lines.append(f"    return {_text(g) if not g[0] else repr(bool(g[1]))}")
        gen.subset = True
        terms: list[list[str]] = [[] for _ in range(lay.nwords)]
        for u in a.updates_x:
            var = u.var
            targets: list[tuple[str, dict]] = []
            if isinstance(u, Assign):
                targets.append((gen.slot_expr(var, u.args, env), env))
            else:
                assert isinstance(u, AssignAll)
                for idx in inst.bindings(u.bound):
                    targets.append((str(inst.slot(var, idx)), {**env, **dict(zip(u.bound, idx))}))
            w = int(lay.word[inst.base[var]])
            for slot, env2 in targets:
                f: Frag = gen.expr(u.value, env2)
                val = _text(f)
                if slot.isdigit() and val == gen.fmt_read(slot, var):
                    continue  # x := x changes nothing
                off = var.dom.offset
                if isinstance(var.dom, RangeDomain) and (not f[0] or not var.dom.lo <= int(f[1]) <= var.dom.hi):  # type: ignore[arg-type]
                    chk = f"_chk_{ai.index}_{var.name}"
                    ns[chk] = _range_checker(a.name, var.name, var.dom.lo, var.dom.hi)
                    val = f"{chk}({val})"
                if off:
                    val = f"({val} - {off})" if off > 0 else f"({val} + {-off})"
                if slot.isdigit():
                    k = int(slot)
                    ns[f"W{k}"] = np.int64(lay.weight[k])
                    terms[w].append(f"({val} - S[{k}, I]) * W{k}")
                else:
                    terms[w].append(f"({val} - S[{slot}, I]) * WT[{slot}]")
        gen.subset = False
        lines.append(f"def delta_{ai.index}(S, I):")
        lines.append(f"    return [{', '.join(' + '.join(t) if t else '0' for t in terms)}]")
    inv_names = []
    for k, inv in enumerate(model.invariants):
        f = gen.expr(expand(inv.body), {})
        lines.append(f"def inv_{k}(S, AR):")
        lines.append(f"    return {_text(f) if not f[0] else repr(bool(f[1]))}")
        inv_names.append(f"inv_{k}")
    state_goals: list[tuple[int, tuple[int, ...], str]] = []
    step_goals: dict[int, list[tuple[int, str]]] = {}
    for n, (gi, step_of, binding, body, env) in enumerate(goal_instances(inst, actions, gen)):
        gen.subset = step_of is not None  # a step goal reads the pre-states the step is enabled in
        f = gen.expr(body, env)
        gen.subset = False
        lines.append(f"def goal_{n}(S, {'AR' if step_of is None else 'I'}):")
        lines.append(f"    return {_text(f) if not f[0] else repr(bool(f[1]))}")
        if step_of is None:
            state_goals.append((gi, binding, f"goal_{n}"))
        else:
            step_goals.setdefault(step_of, []).append((gi, f"goal_{n}"))
    source = "\n".join(lines) + "\n"
    exec(compile(source, f"<lbrspec-vector:{model.name}:{model.variant.name}>", "exec"), ns)
    return VecCompiled(
        instance=inst,
        layout=lay,
        actions=[
            VecAction(ai.index, ai, ns[f"guard_{ai.index}"], ns[f"delta_{ai.index}"], never)  # type: ignore[arg-type]
            for ai, never in vec
        ],
        invariants=[ns[x] for x in inv_names],  # type: ignore[misc]
        state_goals=[(gi, b, ns[f]) for gi, b, f in state_goals],  # type: ignore[misc]
        step_goals={k: [(gi, ns[f]) for gi, f in v] for k, v in step_goals.items()},  # type: ignore[misc]
        source=source,
    )


def as_mask(value: object, n: int) -> np.ndarray:
    """A guard or predicate result as a boolean array of length ``n``."""
    if isinstance(value, (bool, np.bool_)):
        return np.full(n, bool(value))
    return np.asarray(value, dtype=bool)
