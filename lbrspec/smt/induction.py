"""Inductive invariants: initiation, consecution, and the largest inductive subset.

A set of properties ``F`` (the model's safety invariants plus strengthening *lemmas*) is an
inductive invariant when every property holds initially (``Init => f``, *initiation*) and is
kept by every action from any state satisfying all of ``F`` (``F & T => f'``, *consecution*).
Then every property holds in every reachable state: of one finite instance, or, with the
unbounded encoding, of every instance whatever the number of vCPUs, pCPUs and host users.

:func:`prove` checks each property's initiation, then its consecution relative to the others,
one action at a time with the post-state substituted into the property (its weakest
precondition; see :class:`~lbrspec.smt.encode.AfterAction`).  A property is *proven* only if it
belongs to a set that is inductive as a whole, so when some fail, :func:`prove` computes the
largest inductive subset (the Houdini algorithm: drop what fails, re-check the rest, until
nothing fails).

A property that fails consecution in the first round gets a counterexample to induction
(:class:`~lbrspec.smt.cti.Cti`), classified against the explorer:

1. first a *reachable* CTI is looked for: bounded model checking of the same properties
   (:class:`~lbrspec.smt.bmc.Unrolling`) finds the shortest runs along which every property
   holds until a failing one breaks; the last step of such a run is a CTI whose pre-state is
   reachable;
2. a property without one gets the solver's CTI, its pre-state as close to an initial state as
   possible (greedily, slot by slot); if the explorer shows it unreachable, its unreachable
   core is excluded and another CTI drawn, a few times, before the property is reported as
   needing stronger lemmas.

With ``all_sizes`` the decision comes from the unbounded encoding, and the CTI from the smallest
finite instance that has one (a CTI there is a CTI of the claim for every size), where it is
classified.  An ``unknown`` or timed-out answer leaves the property *undetermined*.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import z3

from .. import runctl
from ..errors import EvaluationError, InternalError
from ..explicit.evaluate import holds as eval_holds
from ..explicit.evaluate import step as eval_step
from ..explicit.evaluate import with_offending_step
from ..lang.domains import RangeDomain, Value
from ..lang.expr import Local, Quant, conj
from ..explicit.instance import Instance
from ..lang.spec import Action, Invariant, Model
from ..trace import Trace
from .bmc import Unrolling
from .cti import Classifier, Cti
from .encode import Encoding, StateSyms
from .solving import Answer, Budget, check

#: How many unreachable CTIs to exclude, per property, before giving up on a reachable one.
CTI_ATTEMPTS = 4
#: The largest sort size of the small instances searched for CTIs of an unbounded proof.
MAX_SMALL_SIZE = 3
#: Seconds for a first unbounded consecution query before small instances are searched.
QUICK_SECONDS = 2.0
#: Default depth of the search for reachable CTIs.
CTI_DEPTH = 10
#: Default state budget of the exploration that classifies CTIs, in canonical states (one per
#: renaming of the sorts' elements): v8 has 1.04 M of them on its default instance (2x2x1; 4.1 M
#: without symmetry reduction), its one-fix and design-alternative variants up to 3.4 M, and
#: v8-unfused 5.8 M.  An exploration that stops at the budget classifies nothing.
EXPLORE_STATES = 6_000_000


@dataclass
class PropertyResult:
    """One row of the proof table."""

    name: str
    kind: str  # "invariant" (a safety property of the model) or "lemma"
    status: str  # "proven", "not initiated", "not inductive", "unproven" or "undetermined"
    seconds: float = 0.0
    detail: str = ""
    cti: Cti | None = None
    initial: dict[str, Value] | None = None  # not initiated: an initial state violating it
    failing_action: str | None = None  # the first action found to break it

    @property
    def proven(self) -> bool:
        return self.status == "proven"


@dataclass
class ProofResult:
    """The proof table and its verdict: ``proven`` (every invariant), ``violated`` (an
    invariant fails in a reachable state or initially), ``unproven`` (the lemmas need
    strengthening) or ``undetermined`` (the solver gave up)."""

    model: Model
    sizes: dict[str, int] | None  # None: every size
    rows: list[PropertyResult]
    seconds: float
    rounds: int
    verdict: str
    search_depth: int = 0  # how deep the search for reachable CTIs went
    notes: list[str] = field(default_factory=list)

    def row(self, name: str) -> PropertyResult:
        for r in self.rows:
            if r.name == name:
                return r
        raise KeyError(name)


def prove(
    model: Model,
    lemmas: Sequence[Invariant] = (),
    sizes: dict[str, int] | None = None,
    *,
    all_sizes: bool = False,
    timeout: float | None = None,
    cti_depth: int = CTI_DEPTH,
    explore_states: int | None = EXPLORE_STATES,
) -> ProofResult:
    """Check that the invariants, strengthened by ``lemmas``, are inductive (module docstring).

    ``all_sizes``: the unbounded encoding; otherwise the finite instance of ``sizes`` (the
    model's default sizes for sorts not given).  ``timeout``: seconds for all solver queries
    together.  ``cti_depth``: how deep to look for reachable CTIs; ``explore_states``: the
    state budget of the exploration that classifies them.
    """
    t0 = time.perf_counter()
    budget = Budget(timeout)
    props: list[Invariant] = list(model.invariants) + list(lemmas) + _range_property(model)
    names = [p.name for p in props]
    if len(set(names)) != len(names):
        dup = min({n for n in names if names.count(n) > 1})
        raise InternalError(f"two properties are named {dup!r}")
    prover = _Prover(model, props, None if all_sizes else (sizes or {}), budget)
    rows = {p.name: PropertyResult(p.name, p.kind if p.kind != "safety" else "invariant", "proven") for p in props}

    rounds, first_active = 0, []
    try:
        rounds, first_active = _houdini(prover, props, rows)
        stopped = None
    except z3.Z3Exception:
        # a stop request (a budget, SIGINT, SIGTERM) interrupts Z3, which may refuse the next
        # operation rather than answer unknown: what was not decided stays undetermined
        stopped = runctl.poll()
        if stopped is None:
            raise
        for r in rows.values():
            if r.status == "proven":
                r.status, r.detail = "undetermined", stopped

    inst = prover.main.enc.instance
    result = ProofResult(model, inst.sizes_by_name() if inst is not None else None, [rows[p.name] for p in props], 0.0, rounds, "")
    failing = [p for p in first_active if rows[p.name].status == "not inductive"]
    if failing and stopped is None:
        _counterexamples(prover, failing, first_active, rows, result, cti_depth, explore_states)
    result.verdict = _verdict(result.rows, model)
    result.seconds = time.perf_counter() - t0
    return result


def _houdini(prover: "_Prover", props: list[Invariant], rows: dict[str, PropertyResult]
            ) -> tuple[int, list[Invariant]]:
    """Initiation of every property, then consecution relative to the properties still
    standing until nothing fails; the rows are updated in place; returns the rounds and the
    properties that passed initiation."""
    for p in props:
        ans, initial = prover.initiation(p)
        r = rows[p.name]
        r.seconds += ans.seconds
        if ans.sat:
            r.status, r.initial, r.detail = "not initiated", initial, "an initial state violates it"
        elif not ans.unsat:
            r.status, r.detail = "undetermined", f"initiation: {ans.reason}"

    # Consecution relative to the properties still standing, until nothing fails (Houdini).  The
    # properties each (property, action) query used (its unsat core) are kept: a later round
    # re-asks only the queries whose proof used a property dropped since.
    first_active = [p for p in props if rows[p.name].status == "proven"]
    active = list(first_active)
    rounds = 0
    cores: dict[tuple[str, str], frozenset[str]] = {}
    while True:
        rounds += 1
        failed: list[Invariant] = []
        for p in active:
            ans, action = prover.consecution(p, active, cores)
            r = rows[p.name]
            r.seconds += ans.seconds
            if ans.unsat:
                continue
            failed.append(p)
            if not ans.sat:
                r.status, r.detail = "undetermined", f"consecution: {ans.reason}"
            elif rounds == 1:
                r.status, r.failing_action = "not inductive", action
            else:
                r.status = "unproven"
                gone = ", ".join(q.name for q in props if q not in active)
                r.detail = f"inductive only together with properties that failed: {gone}"
        if not failed:
            break
        active = [p for p in active if p not in failed]
    return rounds, first_active


class _Prover:
    """The checkers of one proof: the main one (finite or unbounded) and, for an unbounded
    proof, checkers of small finite instances, where counterexamples are looked for.

    A CTI in a finite instance is a CTI of the claim for every size too (the claim covers that
    instance), and finite queries are ground and decidable, while Z3's model search for
    quantified formulas (MBQI) need not terminate on a satisfiable query.  So an unbounded
    consecution query first gets :data:`QUICK_SECONDS`; if it has no answer by then, the small
    instances are searched, fewest elements first; only then does the unbounded query get the
    rest of the budget."""

    def __init__(self, model: Model, props: list[Invariant], sizes: dict[str, int] | None, budget: Budget) -> None:
        self.model = model
        self.props = props
        self.budget = budget
        self.main = _Checker(Encoding(model, sizes), props, budget)
        self._small: dict[tuple[int, ...], _Checker] = {}

    @property
    def unbounded(self) -> bool:
        return not self.main.enc.finite

    def small_sizes(self) -> list[dict[str, int]]:
        """Instance sizes of at most :data:`MAX_SMALL_SIZE` per sort, fewest elements first."""
        names = [s.name for s in self.model.sorts]
        combos = sorted(itertools.product(range(1, MAX_SMALL_SIZE + 1), repeat=len(names)), key=lambda c: (sum(c), c))
        return [dict(zip(names, c)) for c in combos]

    def small(self, sizes: dict[str, int]) -> _Checker:
        key = tuple(sizes[s.name] for s in self.model.sorts)
        if key not in self._small:
            self._small[key] = _Checker(Encoding(self.model, sizes), self.props, self.budget)
        return self._small[key]

    def consecution(self, p: Invariant, active: list[Invariant],
                    cores: dict[tuple[str, str], frozenset[str]] | None = None) -> tuple[Answer, str | None]:
        """Is ``p`` kept by every action from every state satisfying ``active``?  Returns the
        answer and, if not, the first action (in declaration order) found to break it.

        ``cores``: per (property, action), the properties an earlier unsat answer used; a query
        whose core lies within ``active`` is unsat again (fewer assumptions than before, all of
        them still there) and is not asked; new cores are recorded."""
        seconds = 0.0
        unknown: Answer | None = None
        names = {q.name for q in active}
        for a in self.model.actions:
            core = cores.get((p.name, a.name)) if cores is not None else None
            if core is not None and core <= names:
                continue
            ans = self.main.decide(p, a, active, limit=QUICK_SECONDS if self.unbounded else None)
            seconds += ans.seconds
            if ans.result == "unknown" and self.unbounded and not self.budget.exhausted():
                small = ans
                for sizes in self.small_sizes():
                    small = self.small(sizes).decide(p, a, active)
                    seconds += small.seconds
                    if small.sat or self.budget.exhausted():
                        break
                if small.sat:
                    ans = small
                else:
                    ans = self.main.decide(p, a, active)
                    seconds += ans.seconds
            if ans.sat:
                return Answer("sat", seconds), a.name
            if ans.unsat and cores is not None and ans.core is not None:
                cores[(p.name, a.name)] = ans.core
            if not ans.unsat:
                unknown = unknown or ans
        if unknown is not None:
            return Answer("unknown", seconds, unknown.reason), None
        return Answer("unsat", seconds), None

    def initiation(self, p: Invariant) -> tuple[Answer, dict[str, Value] | None]:
        """Does ``p`` hold in every initial state?  If not, an initial state violating it (for
        an unbounded proof, one of the smallest instance that has one)."""
        ans, initial = self.main.initiation(p, decode=not self.unbounded)
        if ans.sat and self.unbounded:
            for sizes in self.small_sizes():
                small, initial = self.small(sizes).initiation(p)
                if small.sat or self.budget.exhausted():
                    break
        return ans, initial

    def checker_for(self, cti: Cti) -> _Checker:
        return self.main if not self.unbounded else self.small(cti.instance.sizes_by_name())

    def cti(self, p: Invariant, active: list[Invariant], action: str | None) -> Cti | None:
        """The solver's CTI: in the finite instance, or in the smallest instance that has one."""
        if not self.unbounded:
            return self.main.cti(p, active, action)
        for sizes in self.small_sizes():
            if self.budget.exhausted():
                return None
            c = self.small(sizes).cti(p, active, action)
            if c is not None:
                return c
        return None


def _range_property(model: Model) -> list[Invariant]:
    """Bounded-integer variables stay in their ranges: a write outside one is an error of the
    explicit engine, so the proof must rule it out too (an obligation like any property)."""
    parts = []
    for v in model.vars:
        if isinstance(v.dom, RangeDomain):
            xs = tuple(Local(f"i{k}", d) for k, d in enumerate(v.index))
            ref = v[xs] if xs else v()
            body = (ref >= v.dom.lo) & (ref <= v.dom.hi)
            for x in reversed(xs):
                body = Quant(True, x, body)
            parts.append(body)
    if not parts:
        return []
    return [Invariant("values_in_range", conj(parts), "Every bounded integer stays in its range.", "", kind="domain")]


def _verdict(rows: list[PropertyResult], model: Model) -> str:
    invs = {i.name for i in model.invariants}
    mine = [r for r in rows if r.name in invs]
    if any(r.status == "not initiated" or (r.cti is not None and r.cti.classification in ("reachable", "violated"))
           for r in mine):
        return "violated"
    if all(r.proven for r in mine):
        return "proven"
    if any(r.status == "undetermined" for r in rows):
        return "undetermined"
    return "unproven"


def _counterexamples(
    prover: _Prover,
    failing: list[Invariant],
    assumed: list[Invariant],
    rows: dict[str, PropertyResult],
    result: ProofResult,
    depth: int,
    explore_states: int | None,
) -> None:
    """Attach a classified CTI to every property that failed consecution in the first round."""
    budget = prover.budget
    classifier = Classifier(explore_states)
    plain: dict[str, Cti] = {}
    groups: dict[tuple[tuple[str, int], ...], list[Invariant]] = {}
    if not prover.unbounded:
        inst = prover.main.enc.instance
        assert inst is not None
        groups[tuple(sorted(inst.sizes_by_name().items()))] = list(failing)
    else:
        # Unbounded: the smallest instance with a CTI is the instance to work in.
        for p in failing:
            cti = prover.cti(p, assumed, rows[p.name].failing_action)
            if cti is not None:
                plain[p.name] = cti
                groups.setdefault(tuple(sorted(cti.instance.sizes_by_name().items())), []).append(p)
            else:
                # The unbounded query has a model, but it may use union elements no state has
                # (see encode._Union): without a finite counterexample nothing is refuted.
                rows[p.name].status = "unproven"
                rows[p.name].detail = (f"not shown inductive for every size, and no counterexample to induction in the "
                                       f"instances of at most {MAX_SMALL_SIZE} elements per sort")
    for key, group in groups.items():
        if not budget.exhausted():
            _reachable_ctis(prover.model, dict(key), group, assumed, rows, result, depth, classifier, budget)
    for p in failing:
        r = rows[p.name]
        if r.cti is None and not budget.exhausted():
            cti = plain.get(p.name) or prover.cti(p, assumed, r.failing_action)
            if cti is not None:
                r.cti = _classify_excluding(prover.checker_for(cti), classifier, cti, p, assumed, r.failing_action, budget)
        if r.cti is not None:
            r.detail = r.cti.note


def _reachable_ctis(
    model: Model,
    sizes: dict[str, int],
    group: list[Invariant],
    assumed: list[Invariant],
    rows: dict[str, PropertyResult],
    result: ProofResult,
    depth: int,
    classifier: Classifier,
    budget: Budget,
) -> None:
    """Shortest runs along which every assumed property holds until one of ``group`` breaks:
    the last step of each is a CTI whose pre-state is reachable."""
    unroll = Unrolling(model, sizes, assumed, budget)
    found = unroll.search([p.name for p in group], depth, first_only=False)
    result.search_depth = max(result.search_depth, unroll.depth_checked + 1)
    if unroll.reason:
        result.notes.append(f"the search for reachable CTIs stopped {unroll.reason}")
    inst = unroll.enc.instance
    assert inst is not None
    by_name = {p.name: p for p in group}
    for f in found:
        head = f.trace
        if head.meta.get("violated_by_last_step"):
            # the search ends a step invariant's run with the step that breaks it: the CTI is the
            # step before, into the state that enables it
            head = Trace(head.model, head.variant, head.sizes, head.states[:-1], head.steps[:-1],
                         violation=head.violation, meta={k: v for k, v in head.meta.items() if k != "violated_by_last_step"})
        last = head.steps[-1]
        action = model.action(last.action)
        pre, post = inst.encode(head.states[-2]), inst.encode(head.states[-1])
        for name in f.violated:
            if name not in by_name or rows[name].cti is not None:
                continue
            if not all(eval_holds(q.body, inst, pre) for q in assumed):
                raise InternalError(f"prove: the pre-state of the bounded run breaking {name} violates an assumed property")
            cti = Cti(inst, pre, action, inst.encode_params(action, last.params), post, source="bmc")
            classifier.classify(cti, by_name[name], known_reachable=True)
            if cti.classification == "unreachable":
                raise InternalError(f"prove: the explorer never meets the pre-state of a replayed run breaking {name}")
            if cti.classification == "unclassified":
                # The exploration stopped before meeting the pre-state; the replayed bounded run
                # still shows it reachable.
                head.violation = name
                trace = with_offending_step(inst, head, by_name[name])
                cti.classification, cti.trace, cti.trace_from = "reachable", trace, "bmc"
                cti.note = f"a replayed bounded run reaches the pre-state, so {name} fails after {len(trace)} steps"
            rows[name].cti = cti


def _classify_excluding(
    checker: _Checker, classifier: Classifier, cti: Cti, p: Invariant, assumed: list[Invariant],
    action: str | None, budget: Budget,
) -> Cti:
    """Classify the solver's CTI; while it is unreachable, exclude its unreachable core and draw another."""
    skipped = 0
    while True:
        classifier.classify(cti, p)
        if cti.classification != "unreachable" or skipped + 1 >= CTI_ATTEMPTS or budget.exhausted():
            break
        nxt = checker.cti(p, assumed, action, exclude=cti)
        if nxt is None:
            break
        skipped += 1
        cti = nxt
    cti.skipped = skipped
    if cti.classification == "unreachable" and not budget.exhausted():
        _violated_alone(classifier, cti, p)
    return cti


def _violated_alone(classifier: Classifier, cti: Cti, p: Invariant) -> None:
    """A property with no reachable CTI may still be false: every run to a violation may break
    another assumed property first (a CTI needs a pre-state that satisfies them all), or be
    longer than the bounded search.  The CTI's instance is explored with ``p`` alone checked;
    if it fails there, the CTI is reclassified ``violated``, with the explorer's shortest trace."""
    import dataclasses

    from ..explicit.vexplore import explore_vector

    inst = cti.instance
    model = dataclasses.replace(inst.model, invariants=(p,), goals=())
    alone = Instance(model, inst.sizes_by_name())
    r = explore_vector(alone, symmetry=True, stop_at_violation=True, check_deadlock=False,
                       max_states=classifier.max_states)
    if r.violation is None:
        return
    cti.classification, cti.trace, cti.trace_from = "violated", r.violation.trace, "explorer"
    cti.note = (f"{p.name} fails in a reachable state of the {inst.describe()} instance after "
                f"{len(r.violation.trace)} steps, but every run there breaks another property first, so no "
                "counterexample to induction relative to them is reachable")


class _Checker:
    """The solvers of one proof: one for initiation; one for consecution, whose pre-state
    assumptions are switched on and off by indicator literals, and which is asked one
    (property, action) pair at a time with the post-state substituted."""

    def __init__(self, enc: Encoding, props: list[Invariant], budget: Budget) -> None:
        self.enc = enc
        self.props = props
        self.budget = budget
        ctx = enc.ctx
        self.s0 = enc.state("init")
        self.init_solver = enc.solver()
        self.init_solver.add(enc.init(self.s0))
        self.pre = enc.state("pre")
        self.step = enc.step("cti")
        self.after = {a.name: enc.after(a, self.pre, self.step) for a in enc.model.actions}
        self.solver = enc.solver()
        self.solver.add(enc.domains_ok(self.pre))
        self.assume: dict[str, z3.BoolRef] = {}
        for k, p in enumerate(props):
            a = z3.Bool(f"assume!{k}", ctx)
            self.solver.add(z3.Implies(a, enc.holds(p.body, self.pre)))
            self.assume[p.name] = a
        self.near: list[tuple[z3.BoolRef, z3.BoolRef]] = []  # (flag, "this slot has an initial value")
        if enc.finite:
            for k, cond in enumerate(self._initial_slot_conditions()):
                flag = z3.Bool(f"near_init!{k}", ctx)
                self.solver.add(z3.Implies(flag, cond))
                self.near.append((flag, cond))
        self.excluded: dict[str, list[z3.BoolRef]] = {}
        self._guards: dict[str, z3.BoolRef] = {}
        self._queries: dict[tuple[str, str], list[z3.BoolRef]] = {}  # built once, asked in every round

    # -- initiation -------------------------------------------------------------------------
    def initiation(self, p: Invariant, decode: bool = True) -> tuple[Answer, dict[str, Value] | None]:
        flag = z3.Bool(f"init_refute!{p.name}", self.enc.ctx)
        self.init_solver.add(z3.Implies(flag, z3.Not(self.enc.holds(p.body, self.s0))))
        ans = check(self.init_solver, self.budget, flag)
        if not ans.sat or not decode:
            return ans, None
        dec = self.enc.decode(self.init_solver.model(), [self.s0], [])
        inst, s = dec.instance, dec.states[0]
        if not inst.is_initial(s) or eval_holds(p.body, inst, s):
            raise InternalError(f"prove: the solver's initial state violating {p.name} is not one by the reference semantics")
        return ans, inst.decode(s)

    # -- consecution ------------------------------------------------------------------------
    def _query(self, p: Invariant, a: Action) -> list[z3.BoolRef]:
        key = (p.name, a.name)
        q = self._queries.get(key)
        if q is None:
            guard = self._guards.get(a.name)
            if guard is None:
                guard = self._guards[a.name] = self.enc.guard(a, self.pre, self.step)
            q = self._queries[key] = [
                self.step.act == self.enc.action_const[a.name],
                guard,
                z3.Not(self.enc.holds(p.body, self.after[a.name])),
            ]
        return q

    def decide(self, p: Invariant, a: Action, active: list[Invariant], limit: float | None = None) -> Answer:
        """Can action ``a`` break ``p`` from a state satisfying ``active``?  (sat: yes)"""
        self.solver.push()
        try:
            self.solver.add(*self._query(p, a))
            ans = check(self.solver, self.budget, *[self.assume[q.name] for q in active], limit=limit)
            if ans.unsat:
                used = {str(x) for x in self.solver.unsat_core()}
                ans.core = frozenset(q.name for q in active if str(self.assume[q.name]) in used)
            return ans
        finally:
            self.solver.pop()

    def cti(self, p: Invariant, active: list[Invariant], action: str | None, exclude: Cti | None = None) -> Cti | None:
        """A CTI of ``p`` relative to ``active`` by ``action`` (first choice) or any action,
        its pre-state as close to an initial state as the solver allows, checked by the
        reference semantics.  ``exclude``: an unreachable CTI whose core is to be avoided from now on."""
        if exclude is not None:
            block = z3.Not(self.enc.pin(self.pre, exclude.pre, exclude.core or None))
            self.excluded.setdefault(p.name, []).append(block)
        flags = [self.assume[q.name] for q in active]
        actions = list(self.enc.model.actions)
        if action is not None:
            actions.sort(key=lambda a: a.name != action)
        for a in actions:
            self.solver.push()
            try:
                self.solver.add(*self._query(p, a), *self.excluded.get(p.name, []))
                # Explicit post-state symbols, so that the model gives them concrete values.
                post = self.enc.state("post")
                after = self.after[a.name]
                for v in self.enc.model.vars:
                    self.solver.add(self.enc.forall_index(v.index, lambda xs, v=v, post=post, after=after: post.read(v, xs) == after.read(v, xs)))
                m = self._closest_model(flags)
                if m is not None:
                    return self._decode_cti(m, p, a, active, post)
            finally:
                self.solver.pop()
        return None

    def _closest_model(self, flags: list[z3.BoolRef]) -> z3.ModelRef | None:
        """A model whose pre-state has an initial value in as many slots as possible (greedy,
        in slot order; in an unbounded encoding, any model)."""
        ans = check(self.solver, self.budget, *flags)
        if not ans.sat:
            return None
        best = self.solver.model()
        chosen = list(flags)
        for flag, cond in self.near:
            if z3.is_true(best.eval(cond, model_completion=True)):
                chosen.append(flag)
                continue
            a = check(self.solver, self.budget, *chosen, flag)
            if a.sat:
                chosen.append(flag)
                best = self.solver.model()
            elif not a.unsat:
                break
        return best

    def _initial_slot_conditions(self) -> list[z3.BoolRef]:
        """For every slot whose initial value is constrained: 'the pre-state's slot is initial'."""
        inst = self.enc.instance
        assert inst is not None
        out = []
        for sl, initial in zip(inst.slots, inst.initial_choices()):
            allowed = sorted(initial)
            if len(allowed) == len(list(inst.domain_codes(sl.var.dom))):
                continue
            idx = [self.enc.values(d)[j] for d, j in zip(sl.var.index, sl.index)]
            cur = self.pre.read(sl.var, idx)
            out.append(z3.Or([cur == self.enc.value(sl.var.dom, c + sl.var.dom.offset) for c in allowed]))
        return out

    def _decode_cti(self, m: z3.ModelRef, p: Invariant, a: Action, active: list[Invariant], post_syms: StateSyms) -> Cti:
        dec = self.enc.decode(m, [self.pre, post_syms], [self.step])
        inst = dec.instance
        pre, post = dec.states
        action, params = dec.steps[0]
        # The reference semantics must agree with every part of the solver's claim.
        if action is not a:
            raise InternalError(f"prove: the solver's CTI for {p.name} fired {action.name}, not {a.name}")
        for q in active:
            if not eval_holds(q.body, inst, pre):
                raise InternalError(f"prove: the solver's CTI pre-state violates {q.name}, which it was to assume")
        if p.kind == "domain":
            try:
                eval_step(inst, action, params, pre)
            except EvaluationError:
                return Cti(inst, pre, action, params, post)
            raise InternalError(f"prove: the solver says {action.name} writes a value out of range; the reference semantics disagrees")
        got = eval_step(inst, action, params, pre)
        if got != post:
            raise InternalError(
                f"prove: the solver's counterexample to induction for {p.name} is not a step of the reference semantics "
                f"({action.name} {'is not enabled' if got is None else 'leads elsewhere'})"
            )
        if eval_holds(p.body, inst, post):
            raise InternalError(f"prove: the solver's CTI post-state satisfies {p.name}")
        return Cti(inst, pre, action, params, post)
