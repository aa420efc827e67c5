"""Counterexamples to induction and their classification against the explorer.

A **counterexample to induction** (CTI) of a property ``p`` relative to a set of properties
``F`` is one step ``pre --action--> post`` of the model where ``pre`` satisfies every property
of ``F`` and ``post`` violates ``p``.  It says that ``F`` is not inductive, not that ``p`` is
false: that depends on whether ``pre`` is reachable.  On a finite instance the explorer
(:func:`lbrspec.explicit.explore.explore`) answers that:

* *reachable*: the explorer met ``pre``; its shortest trace to ``pre`` plus the CTI's step is a
  real counterexample to ``p`` (replayed by the reference semantics before it is shown);
* *unreachable*: the exploration was complete and never met ``pre``: the lemmas need
  strengthening.  The state is generalised to an *unreachable core*, a few of its slots that
  no reachable state has together (what IC3 would block); its negation holds in every
  reachable state of the instance and is the hint for the missing lemma;
* *unclassified*: the exploration stopped at its state budget before meeting ``pre``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import InternalError
from ..explicit.evaluate import holds as eval_holds
from ..explicit.explore import ExploreResult, explore
from ..explicit.instance import Instance, State
from ..explicit.replay import replay
from ..lang.domains import Value
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
    classification: str = "unclassified"  # "reachable", "unreachable" or "unclassified"
    note: str = ""
    trace: Trace | None = None  # reachable: a shortest trace to pre, plus the CTI step
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
    """The reachable states of one instance, explored breadth-first once, within a state budget."""

    def __init__(self, inst: Instance, max_states: int | None) -> None:
        self.instance = inst
        self.result: ExploreResult = explore(inst, stop_at_violation=False, check_deadlock=False, max_states=max_states)
        self.states: list[State] = [self.result.state(i) for i in range(self.result.states)]
        self.index: dict[State, int] = {s: i for i, s in enumerate(self.states)}
        self._cols: list[bytes] | None = None

    @property
    def complete(self) -> bool:
        return self.result.complete

    def classify(self, cti: Cti, p: Invariant) -> None:
        """Set ``cti.classification`` (module docstring); a reachable CTI must replay to a violation."""
        inst = cti.instance
        sid = self.index.get(cti.pre)
        if sid is not None:
            head = self.result.trace_to(sid)
            full = Trace(head.model, head.variant, head.sizes, head.states + [inst.decode(cti.post)],
                         head.steps + cti.step_trace.steps, violation=p.name)
            res = replay(inst, full)
            if not res.ok or eval_holds(p.body, inst, res.states[-1]):
                raise InternalError(f"prove: the reachable CTI for {p.name} does not replay to a violation: {res.reason}")
            full.meta["engine"] = "prove"
            cti.classification, cti.trace, cti.trace_from = "reachable", full, "explorer"
            cti.note = f"the pre-state is reachable in {len(head)} steps, so {p.name} fails after {len(full)} steps"
        elif self.complete:
            cti.classification = "unreachable"
            cti.core = self.unreachable_core(cti.pre)
            cti.note = f"no run of the {inst.describe()} instance reaches the pre-state"
        else:
            cti.classification = "unclassified"
            cti.note = (f"exploring {inst.describe()} stopped after {self.result.states:,} states "
                        f"({self.result.stop_reason}) without meeting the pre-state")

    def unreachable_core(self, pre: State) -> list[int]:
        """Slots of the unreachable ``pre`` that together match no reachable state.

        Greedy in slot order (each slot is dropped if the rest still matches no reachable
        state), so the core is irredundant.  For speed, each slot's values over all reachable
        states are one ``bytes`` column, and "the states that differ from ``pre`` in slot i" one
        big integer with a byte per state; a set of slots matches no reachable state when the
        OR of their integers has every byte set."""
        n = len(pre)
        if pre in self.index:
            raise ValueError("the state is reachable")
        if self._cols is None:
            if any(sz > 256 for sz in self.instance.slot_size) or not self.states:
                return list(range(n))
            self._cols = [bytes(col) for col in zip(*self.states)]
        every = int.from_bytes(b"\x01" * len(self.states), "big")
        differs = []
        for i in range(n):
            table = bytes(0 if c == pre[i] else 1 for c in range(256))
            differs.append(int.from_bytes(self._cols[i].translate(table), "big"))
        keep = list(range(n))
        for i in range(n):
            trial = [k for k in keep if k != i]
            acc = 0
            for k in trial:
                acc |= differs[k]
            if acc == every:
                keep = trial
        return keep


class Classifier:
    """Explores the instance a CTI lives in and classifies CTIs against it.

    A reachable CTI found by bounded model checking is shallow, and breadth-first exploration
    meets it early, so a small exploration is tried first; the full state budget is spent only
    when the small one neither meets the pre-state nor completes.  Each exploration is made once
    per instance and budget."""

    FIRST_BUDGET = 20_000

    def __init__(self, max_states: int | None) -> None:
        self.max_states = max_states
        self._cache: dict[tuple[tuple[tuple[str, int], ...], int | None], Reachable] = {}

    def reachable(self, inst: Instance, max_states: int | None) -> Reachable:
        key = (tuple(sorted(inst.sizes_by_name().items())), max_states)
        if key not in self._cache:
            self._cache[key] = Reachable(inst, max_states)
        return self._cache[key]

    def classify(self, cti: Cti, p: Invariant) -> None:
        budgets: list[int | None] = [self.max_states]
        if self.max_states is None or self.max_states > self.FIRST_BUDGET:
            budgets.insert(0, self.FIRST_BUDGET)
        for budget in budgets:
            reach = self.reachable(cti.instance, budget)
            if cti.pre in reach.index or reach.complete or budget == budgets[-1]:
                reach.classify(cti, p)
                return
