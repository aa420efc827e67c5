"""Counterexamples to induction and their classification against the explorer.

A **counterexample to induction** (CTI) of a property ``p`` relative to a set of properties
``F`` is one step ``pre --action--> post`` of the model where ``pre`` satisfies every property
of ``F`` and ``post`` violates ``p``.  It says that ``F`` is not inductive, not that ``p`` is
false: that depends on whether ``pre`` is reachable.  On a finite instance the vector explorer
(:func:`lbrspec.explicit.vexplore.explore_vector`, with symmetry reduction: one state per
renaming of the sorts' elements, so ``pre`` is looked up by its canonical form) answers that:

* *reachable*: the explorer met ``pre``; its shortest trace to ``pre`` plus the CTI's step is a
  real counterexample to ``p`` (replayed by the reference semantics before it is shown);
* *unreachable*: the exploration was complete and never met ``pre``: the lemmas need
  strengthening.  The state is generalised to an *unreachable core*, a few of its slots that
  no reachable state has together (what IC3 would block); its negation holds in every
  reachable state of the instance and is the hint for the missing lemma;
* *unclassified*: the exploration stopped at its state budget before meeting ``pre``.  Nothing
  is claimed: an unclassified CTI is never taken for an unreachable one, nor the property for
  proven.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import InstanceTooLarge, InternalError
from ..explicit.evaluate import holds as eval_holds
from ..explicit.evaluate import with_offending_step
from ..explicit.explore import ExploreResult
from ..explicit.instance import Instance, State
from ..explicit.replay import replay
from ..explicit.symmetry import Renaming, Symmetry
from ..explicit.vexplore import PackedStore, explore_vector
from ..lang.domains import SortDomain, UnionDomain, Value
from ..lang.spec import Action, Invariant
from ..trace import Trace, trace_from_states


def fmt_value(v: Value) -> str:
    return ("true" if v else "false") if isinstance(v, bool) else str(v)


@dataclass
class Cti:
    """A counterexample to induction (encoded states of ``instance``) and its classification."""

    instance: Instance
    pre: State
    action: Action
    params: tuple[int, ...]
    post: State
    #: "reachable", "unreachable", "unclassified", or "violated" (no reachable CTI, but the property
    #: alone fails in the instance: every run to it breaks another property first)
    classification: str = "unclassified"
    note: str = ""
    #: reachable: a shortest trace to pre, plus the CTI step (for a step invariant, then the step
    #: it forbids, which the post-state enables, as the explorer's counterexamples end)
    trace: Trace | None = None
    trace_from: str = ""  # "explorer" (its shortest trace) or "bmc" (exploration stopped first)
    core: list[int] = field(default_factory=list)  # unreachable: slots of pre no reachable state has together
    skipped: int = 0  # unreachable CTIs excluded before this one was found
    source: str = "solver"  # "solver" (a consecution query) or "bmc" (the last step of a shortest run)

    @property
    def step_trace(self) -> Trace:
        """The CTI as a one-step trace (its first state is the pre-state, not an initial one)."""
        return trace_from_states(self.instance, [self.pre, self.post], [(self.action, self.params)])

    def label(self) -> str:
        vals = self.instance.decode_params(self.action, self.params)
        return f"{self.action.name}({', '.join(f'{k}={v}' for k, v in vals.items())})"

    def core_text(self) -> str:
        """The unreachable core as ``slot=value`` pairs."""
        dec = self.instance.decode(self.pre)
        names = [sl.name for sl in self.instance.slots]
        return ", ".join(f"{names[i]}={fmt_value(dec[names[i]])}" for i in self.core)


class Reachable:
    """The reachable states of one instance, explored breadth-first once, within a state budget
    (of canonical states: one per renaming of the sorts' elements)."""

    def __init__(self, inst: Instance, max_states: int | None) -> None:
        self.instance = inst
        try:
            self.result: ExploreResult = explore_vector(inst, symmetry=True, stop_at_violation=False,
                                                        check_deadlock=False, max_states=max_states)
        except InstanceTooLarge:  # a renaming group too large to canonicalise: every state stored
            self.result = explore_vector(inst, symmetry=False, stop_at_violation=False, check_deadlock=False,
                                         max_states=max_states)
        store = self.result.store
        assert isinstance(store, PackedStore)
        self.store = store
        self.layout = store.vc.layout
        self.sym: Symmetry | None = store.sym
        self._cols: np.ndarray | None = None  # slots x states: the canonical states, one row per slot

    @property
    def complete(self) -> bool:
        return self.result.complete

    @property
    def states(self) -> int:
        """How many (canonical) states were stored."""
        return self.result.states

    def canonical(self, s: State) -> State:
        return self.sym.canonical(s) if self.sym is not None else s

    def find(self, s: State) -> int | None:
        """The number of ``s``'s canonical form among the explored states, or ``None``."""
        words = [np.array([w], dtype=np.int64) for w in self.layout.pack(self.canonical(s))]
        sid = int(self.store.set.lookup(words)[0])
        return sid if sid >= 0 else None

    def __contains__(self, s: State) -> bool:
        return self.find(s) is not None

    def trace_to(self, s: State) -> Trace:
        """A shortest trace from an initial state to ``s`` itself (not a renaming of it)."""
        sid = self.find(s)
        if sid is None:
            raise ValueError("the state is not reachable")
        head = self.result.trace_to(sid)
        inst = self.instance
        last = inst.encode(head.states[-1])
        if last == s or self.sym is None:
            return head
        r = next((r for r in self.sym.group if self.sym.rename(last, r) == s), None)
        if r is None:
            raise InternalError("the explorer's trace ends in a state that is no renaming of the one asked for")
        actions = {a.name: a for a in inst.model.actions}
        states = [self.sym.rename(inst.encode(st), r) for st in head.states]
        steps = []
        for st in head.steps:
            a = actions[st.action]
            steps.append((a, self._rename_params(a, inst.encode_params(a, st.params), r)))
        return trace_from_states(inst, states, steps)

    def _rename_params(self, action: Action, params: tuple[int, ...], r: Renaming) -> tuple[int, ...]:
        assert self.sym is not None
        out = []
        for p, c in zip(action.params, params):
            if isinstance(p.dom, (SortDomain, UnionDomain)):
                c = int(self.sym._value_map(p.dom, r.perm)[c])
            out.append(c)
        return tuple(out)

    def classify(self, cti: Cti, p: Invariant) -> None:
        """Set ``cti.classification`` (module docstring); a reachable CTI must replay to a violation."""
        inst = cti.instance
        if cti.pre in self:
            head = self.trace_to(cti.pre)
            full = Trace(head.model, head.variant, head.sizes, head.states + [inst.decode(cti.post)],
                         head.steps + cti.step_trace.steps, violation=p.name)
            res = replay(inst, full)
            if not res.ok or eval_holds(p.body, inst, res.states[-1]):
                raise InternalError(f"prove: the reachable CTI for {p.name} does not replay to a violation: {res.reason}")
            full = with_offending_step(inst, full, p)
            full.meta["engine"] = "prove"
            cti.classification, cti.trace, cti.trace_from = "reachable", full, "explorer"
            cti.note = f"the pre-state is reachable in {len(head)} steps, so {p.name} fails after {len(full)} steps"
            if p.on is not None:
                cti.note += " (the last one a step it forbids, enabled in the CTI's post-state)"
        elif self.complete:
            cti.classification = "unreachable"
            cti.core = self.unreachable_core(cti.pre)
            cti.note = f"no run of the {inst.describe()} instance reaches the pre-state"
        else:
            cti.classification = "unclassified"
            cti.note = (f"exploring {inst.describe()} stopped after {self.states:,} states "
                        f"({self.result.stop_reason}) without meeting the pre-state")

    def _columns(self) -> np.ndarray:
        """The explored (canonical) states as a slot matrix, one row per slot."""
        if self._cols is None:
            n = self.states
            small = int(self.layout.radix.max()) <= 256
            out = np.empty((len(self.layout.radix), n), dtype=np.uint8 if small else np.int64)
            step = 1 << 18
            for lo in range(0, n, step):
                hi = min(n, lo + step)
                out[:, lo:hi] = self.layout.unpack_array(self.store.set.words(lo, hi), np.int64)
            self._cols = out
        return self._cols

    def unreachable_core(self, pre: State) -> list[int]:
        """Slots of the unreachable ``pre`` that together match no reachable state.

        Greedy in slot order (each slot is dropped if the rest still matches no reachable
        state), so the core is irredundant.  The explored states are canonical, one per orbit of
        renamings, so a set of slots matches a reachable state when, for some renaming ``r``,
        ``r(pre)`` agrees with an explored state on the renamed slots.  Per renaming and slot,
        "the explored states that differ from ``r(pre)`` there" is one packed bit row; a set of
        slots matches no reachable state when, for every renaming, the OR of its rows has every
        bit set."""
        if pre in self:
            raise ValueError("the state is reachable")
        cols = self._columns()
        n_slots, n = cols.shape
        if n == 0:
            return list(range(n_slots))
        group = self.sym.group if self.sym is not None else [None]
        pad = (-n) % 8  # padding bits count as "differs", so a full row is all ones
        rows = []  # per renaming: slots x bytes
        for r in group:
            per = np.empty((n_slots, (n + pad) // 8), dtype=np.uint8)
            for k in range(n_slots):
                if r is None:
                    dest, val = k, pre[k]
                else:
                    dest, val = int(r.dest[k]), int(r.lut[k][pre[k]])
                bits = cols[dest] != val
                if pad:
                    bits = np.concatenate([bits, np.ones(pad, dtype=bool)])
                per[k] = np.packbits(bits)
            rows.append(per)

        def matches_none(slots: list[int]) -> bool:
            if not slots:
                return False
            return all(bool(np.all(np.bitwise_or.reduce(per[slots], axis=0) == 0xFF)) for per in rows)

        keep = list(range(n_slots))
        for i in range(n_slots):
            trial = [k for k in keep if k != i]
            if matches_none(trial):
                keep = trial
        return keep


class Classifier:
    """Explores the instance a CTI lives in and classifies CTIs against it.

    A reachable CTI found by bounded model checking is shallow, and breadth-first exploration
    meets it early, so a small exploration is tried first; the full state budget is spent only
    when the small one neither meets the pre-state nor completes, and never for a CTI whose
    pre-state a replayed bounded run already reaches (``known_reachable``: the exploration would
    only give another shortest trace).  Each exploration is made once per instance and budget."""

    FIRST_BUDGET = 20_000

    def __init__(self, max_states: int | None) -> None:
        self.max_states = max_states
        self._cache: dict[tuple[tuple[tuple[str, int], ...], int | None], Reachable] = {}

    def reachable(self, inst: Instance, max_states: int | None) -> Reachable:
        key = (tuple(sorted(inst.sizes_by_name().items())), max_states)
        if key not in self._cache:
            self._cache[key] = Reachable(inst, max_states)
        return self._cache[key]

    def classify(self, cti: Cti, p: Invariant, known_reachable: bool = False) -> None:
        budgets: list[int | None] = [self.max_states]
        if self.max_states is None or self.max_states > self.FIRST_BUDGET:
            budgets.insert(0, self.FIRST_BUDGET)
        if known_reachable:
            budgets = budgets[:1]
        for budget in budgets:
            try:
                reach = self.reachable(cti.instance, budget)
            except InstanceTooLarge as e:  # even without symmetry reduction the explorer cannot hold it
                cti.classification = "unclassified"
                cti.note = f"the {cti.instance.describe()} instance cannot be explored: {e}"
                return
            if cti.pre in reach or reach.complete or budget == budgets[-1]:
                reach.classify(cti, p)
                return
