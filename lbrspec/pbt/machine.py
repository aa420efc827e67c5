"""A Hypothesis rule-based state machine generated from any model instance.

:func:`rule_machine` reads a :class:`~lbrspec.lang.spec.Model` (or an
:class:`~lbrspec.explicit.instance.Instance` of one) and returns a
:class:`hypothesis.stateful.RuleBasedStateMachine` subclass with

* one ``@initialize`` rule drawing one of the instance's initial states;
* one ``@rule`` per action of the model (``model.actions``, in declaration order), whose
  precondition is "some parameter binding of this action is enabled here" and whose argument is
  one of those enabled bindings, drawn from the instance's bindings of the action's parameters
  (``Instance.bindings``); shrinking prefers the first binding (``v0``, ``p0``...);
* a rule ``no_action_enabled``, valid only where no action is enabled, so that a deadlock is a
  finding (or, with ``allow_deadlock``, a stutter step) and never a Hypothesis
  ``InvalidDefinition``;
* every invariant of the model checked in the initial state and after every step (unless
  ``check_invariants=False``: a conformance check against a model that is expected to break
  its properties, such as code as posted with its bugs, compares and nothing else).

The step semantics is the instance's compiled successor function
(:func:`lbrspec.explicit.compile.compile_instance`), which the test suite checks against the
reference semantics; every trace a failure carries replays with
:func:`lbrspec.explicit.replay.replay`.  A failure is raised as a
:class:`~lbrspec.pbt.failures.ModelFailure` whose ``trace`` is the (shrunk) run.

With an ``adapter`` the same machine drives an implementation under test beside the model and
compares the two after every step (:mod:`lbrspec.pbt.conformance`).
"""

from __future__ import annotations

import keyword
import sys
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping, NoReturn

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, precondition, rule

from ..explicit.compile import compile_instance
from ..explicit.instance import Instance, State
from ..lang.spec import Action, Model
from .failures import Deadlocked, InvariantViolated, ModelFailure, Nonconformance

if TYPE_CHECKING:
    from .conformance import Adapter


@dataclass
class RunStats:
    """Counters shared by every run of one generated machine (for rates and reports)."""

    runs: int = 0
    steps: int = 0
    seconds: float = 0.0  # time spent inside rules (stepping, invariants, conformance)
    longest: int = 0
    actions: dict[str, int] = field(default_factory=dict)
    on_run: Callable[["RunStats"], None] | None = None  # called as each walk starts (progress)

    def reset(self) -> None:
        self.runs = self.steps = self.longest = 0
        self.seconds = 0.0
        self.actions.clear()


class _Choice:
    """One enabled binding of an action: the parameter codes and the successor state.

    The ``repr`` is what Hypothesis prints for a failing step: the decoded parameters.
    """

    __slots__ = ("params", "target", "label")

    def __init__(self, params: tuple[int, ...], target: State, label: str) -> None:
        self.params = params
        self.target = target
        self.label = label

    def __repr__(self) -> str:
        return self.label

    # Hypothesis labels a sampled_from strategy by the hash of its elements; a content hash
    # (not the default id-based one) keeps runs reproducible from the seed.
    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Choice) and (self.params, self.target) == (other.params, other.target)

    def __hash__(self) -> int:
        return hash((self.params, self.target))


class _Initial:
    """An initial state, printed by its number and the values that vary between initial states."""

    __slots__ = ("state", "label")

    def __init__(self, state: State, label: str) -> None:
        self.state = state
        self.label = label

    def __repr__(self) -> str:
        return self.label

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Initial) and self.state == other.state

    def __hash__(self) -> int:
        return hash(self.state)


class ModelMachine(RuleBasedStateMachine):
    """The base of every generated machine; the class attributes are set by :func:`rule_machine`."""

    instance: Instance
    allow_deadlock: bool = False
    invariants_checked: bool = True  # not check_invariants: Hypothesis's machines have a method of that name
    stats: RunStats
    _adapter_factory: "Callable[[], Adapter] | None" = None
    _successors: Callable[[State], list[tuple[int, State]]]
    _first_violation: Callable[[State], int]
    _invariant_fns: list[Callable[[State], bool]]
    _owner: list[tuple[int, tuple[int, ...], str]]  # action-instance index -> (action pos, params, label)
    _actions: tuple[Action, ...]

    def __init__(self, counted: bool = True) -> None:
        """``counted``: the walk adds to the class's :class:`RunStats` (not so for re-runs)."""
        super().__init__()
        self.state: State | None = None
        self.states: list[State] = []
        self.steps: list[tuple[Action, tuple[int, ...]]] = []
        self._enabled: dict[int, list[_Choice]] = {}
        self._conformer = None
        self._stats = type(self).stats if counted else RunStats()
        self._stats.runs += 1
        if self._stats.on_run is not None:
            self._stats.on_run(self._stats)

    # -- internals ------------------------------------------------------------------------------
    def _arrive(self, state: State, step: tuple[Action, tuple[int, ...], State] | None = None) -> None:
        """Enter ``state`` (by ``step``: action, parameters, pre-state): record it, compute what is
        enabled there, check every state invariant there and every step invariant on the step."""
        self.state = state
        self.states.append(state)
        enabled: dict[int, list[_Choice]] = {}
        owner = self._owner
        for ai, target in self._successors(state):
            pos, params, label = owner[ai]
            enabled.setdefault(pos, []).append(_Choice(params, target, label))
        self._enabled = enabled
        if not self.invariants_checked:
            return
        invs = self.instance.model.invariants
        names = []
        if self._first_violation(state) >= 0:
            names = [inv.name for inv, f in zip(invs, self._invariant_fns) if not f(state) and inv.on is None]
        if step is not None and any(inv.on is not None for inv in invs):
            from ..explicit.replay import broken_step_invariants

            names += broken_step_invariants(self.instance, step[0], step[1], step[2])
        if names:
            names = [inv.name for inv in invs if inv.name in names]
            self._fail(InvariantViolated(self.instance, self.states, self.steps, names))

    def _choices(self, pos: int) -> st.SearchStrategy[_Choice]:
        return st.sampled_from(self._enabled[pos])

    def _take(self, pos: int, choice: _Choice) -> None:
        t0 = time.perf_counter()
        action = self._actions[pos]
        pre = self.state
        self.steps.append((action, choice.params))
        stats = self._stats
        stats.steps += 1
        stats.actions[action.name] = stats.actions.get(action.name, 0) + 1
        if len(self.steps) > stats.longest:
            stats.longest = len(self.steps)
        try:
            self._arrive(choice.target, (action, choice.params, pre))
            if self._conformer is not None:
                assert pre is not None
                self._conformer.step(action, choice.params, pre, choice.target)
        finally:
            stats.seconds += time.perf_counter() - t0

    # -- conformance hooks ----------------------------------------------------------------------
    def _start_conformance(self, state: State) -> None:
        if self._adapter_factory is None:
            return
        from .conformance import Conformer

        self._conformer = Conformer(self.instance, self._adapter_factory(), self._fail_conformance)
        self._conformer.start(state)

    def _fail_conformance(self, differences: list[tuple[str, object, object]], refused: str | None) -> NoReturn:
        self._fail(Nonconformance(self.instance, self.states, self.steps, differences, refused))

    def _fail(self, failure: ModelFailure) -> NoReturn:
        failure.machine = type(self)
        raise failure

    def teardown(self) -> None:
        if self._conformer is not None:
            self._conformer.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _identifier(name: str, taken: set[str]) -> str:
    """A method name for an action: the action's name unless it clashes with the base class."""
    ident = "".join(c if c.isalnum() or c == "_" else "_" for c in name) or "action"
    if ident[0].isdigit() or keyword.iskeyword(ident):
        ident = "a_" + ident
    while ident in taken or hasattr(ModelMachine, ident):
        ident += "_"
    taken.add(ident)
    return ident


def _initial_strategy(inst: Instance) -> st.SearchStrategy[_Initial]:
    """One of the instance's initial states, drawn without building them all.

    ``initial state 3 (cap=true, cpu[v0]=p1)`` is the label: the state's position in the
    instance's enumeration and only the slots that vary between initial states.  The draw is
    ``sampled_from`` over the positions (as if over the list of every initial state, so seeded
    runs draw the same states as ever), each decoded on demand by :meth:`Instance.initial_state`.
    Past ``sys.maxsize`` states (a range that large has no ``len``) each varying slot's choice is
    drawn on its own instead; shrinking then prefers each slot's first choice.
    """
    n = inst.initial_count()
    choices = inst.initial_choices()
    varying = [i for i, c in enumerate(choices) if len(c) > 1]

    def initial(k: int) -> _Initial:
        s = inst.initial_state(k)
        if n == 1:
            return _Initial(s, "initial state")
        vals = ", ".join(f"{inst.slots[i].name}={_fmt(inst.decode_slot(i, s[i]))}" for i in varying)
        return _Initial(s, f"initial state {k} ({vals})")

    if n <= sys.maxsize:
        return st.sampled_from(range(n)).map(initial)

    def position(digits: tuple[int, ...]) -> int:
        k = 0
        for i, d in zip(varying, digits):
            k = k * len(choices[i]) + d
        return k

    return st.tuples(*[st.sampled_from(range(len(choices[i]))) for i in varying]).map(lambda ds: initial(position(ds)))


def _fmt(v: object) -> str:
    return ("true" if v else "false") if isinstance(v, bool) else str(v)


def rule_machine(
    target: Instance | Model,
    sizes: Mapping[str, int] | None = None,
    *,
    allow_deadlock: bool = False,
    adapter: "Callable[[], Adapter] | None" = None,
    name: str | None = None,
    check_invariants: bool = True,
) -> type[ModelMachine]:
    """A ``RuleBasedStateMachine`` subclass for ``target`` (a model at ``sizes``, or an instance).

    ``allow_deadlock``: a state without enabled actions stutters instead of failing with
    :class:`~lbrspec.pbt.failures.Deadlocked`.  ``adapter``: a factory of
    :class:`~lbrspec.pbt.conformance.Adapter` objects, one per run, for conformance testing.
    ``check_invariants=False``: the model's invariants are not checked (the runs go on through
    states that break them), for a conformance check against a model that breaks them.

    The class's ``TestCase`` attribute is a ``unittest.TestCase`` that pytest collects::

        TestV8 = rule_machine(guest_lbr.build("v8")).TestCase
    """
    if isinstance(target, Model):
        inst = Instance(target, sizes)
    else:
        if sizes:
            raise TypeError("give sizes with a model, not with an instance")
        inst = target
    model = inst.model
    compiled = compile_instance(inst)
    actions = model.actions
    pos_of = {id(a): k for k, a in enumerate(actions)}
    owner = []
    for ai in compiled.actions:
        params = inst.decode_params(ai.action, ai.params)
        label = "{" + ", ".join(f"{k!r}: {str(v)!r}" for k, v in params.items()) + "}"
        owner.append((pos_of[id(ai.action)], ai.params, label))

    ns: dict[str, Any] = {
        "instance": inst,
        "allow_deadlock": allow_deadlock,
        "invariants_checked": check_invariants,
        "stats": RunStats(),
        "_adapter_factory": staticmethod(adapter) if adapter is not None else None,
        "_successors": staticmethod(compiled.successors),
        "_first_violation": staticmethod(compiled.first_violation),
        "_invariant_fns": compiled.invariant_fns,
        "_owner": owner,
        "_actions": actions,
        "__doc__": f"Rule machine of model {model.name}, variant {model.variant.name}, {inst.describe()}.",
    }

    @initialize(start=_initial_strategy(inst))
    def initial_state(self: ModelMachine, start: _Initial) -> None:
        t0 = time.perf_counter()
        try:
            self._arrive(start.state)
            self._start_conformance(start.state)
        finally:
            self._stats.seconds += time.perf_counter() - t0

    ns["initial_state"] = initial_state
    taken = {"initial_state", "no_action_enabled"}
    for pos, action in enumerate(actions):
        ident = _identifier(action.name, taken)
        ns[ident] = _action_rule(pos, action, ident)

    def nothing_enabled(self: ModelMachine) -> bool:
        return self.state is not None and not self._enabled

    @precondition(nothing_enabled)
    @rule()
    def no_action_enabled(self: ModelMachine) -> None:
        """A state without enabled actions: a deadlock, or a stutter step when deadlocks are allowed."""
        if not self.allow_deadlock:
            self._fail(Deadlocked(self.instance, self.states, self.steps))

    ns["no_action_enabled"] = no_action_enabled
    cls_name = name or _class_name(inst) + ("" if check_invariants else "Unchecked")
    return type(cls_name, (ModelMachine,), ns)  # type: ignore[return-value]


def _class_name(inst: Instance) -> str:
    """``GuestLbrV8Machine2x2x1``: Hypothesis keys its example database by this name."""
    parts = [inst.model.name, inst.model.variant.name]
    words = "".join(w[:1].upper() + w[1:] for p in parts for w in p.replace("-", "_").split("_") if w)
    return f"{words}Machine{'x'.join(str(n) for n in inst.sizes.values())}"


def _action_rule(pos: int, action: Action, ident: str) -> Callable[..., None]:
    """The rule of one action: enabled where some binding is, with an enabled binding drawn."""
    choice = st.runner().flatmap(lambda machine: machine._choices(pos))

    def run(self: ModelMachine, params: _Choice) -> None:
        self._take(pos, params)

    def enabled(self: ModelMachine) -> bool:
        return pos in self._enabled

    # Named functions, not lambdas: Hypothesis describes every precondition it evaluates, and
    # a lambda's description means reading its source.
    enabled.__name__ = enabled.__qualname__ = f"{ident}_enabled"
    run.__name__ = run.__qualname__ = ident
    run.__doc__ = action.doc
    return precondition(enabled)(rule(params=choice)(run))
