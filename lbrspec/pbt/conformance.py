"""Conformance testing: driving an implementation beside the model, step by step.

An implementation under test is connected to a rule machine (:func:`lbrspec.pbt.machine.rule_machine`
with ``adapter=``) by a small :class:`Adapter`:

* ``start(model)``: begin in the model's initial state (read through a :class:`ModelView`);
* ``perform(action, params, model)``: do what the model's action does, e.g. call the
  implementation's VM-exit handler for ``guest_lbr_exit(v=v0, p=p0)``; ``model`` is the state
  *before* the step, from which the implementation may read whatever environment it does not
  implement itself (the scheduler, host perf, the hardware).  An implementation that cannot take
  the step raises :class:`Refused`; any other exception it raises is a failure too;
* ``observe()``: the implementation's state as model values, keyed by slot name (``pc[v0]``)
  or by a definition of the model applied to elements (``irqs_off(p0)``, ``absent(v1)``): a
  definition is how an implementation that keeps its state differently (a pointer to a perf
  event, an interrupt flag) reports what the model means by it.

After the initial state and after every step the machine compares each observation with the
model's value in the same state and fails with :class:`~lbrspec.pbt.failures.Nonconformance`
on the first difference, so Hypothesis shrinks to a short run that shows it.  The model chooses
every step, so the check finds what the implementation does differently on the model's runs;
an implementation that could take steps the model cannot (an IPI while the model has interrupts
disabled) is caught by observing the condition (``irqs_off``) that forbids them.
"""

from __future__ import annotations

import re
from typing import Callable, Mapping, NoReturn, Protocol

from ..errors import InputError, LbrspecError
from ..explicit.evaluate import evaluate
from ..explicit.instance import Instance, State
from ..lang.domains import BoolDomain, Value
from ..lang.spec import Action

_APPLICATION = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\((.*)\)$")


class Refused(Exception):
    """Raised by :meth:`Adapter.perform` when the implementation cannot take the model's step."""


class ModelView:
    """The model's state as an adapter sees it: slot values and definitions, read-only."""

    def __init__(self, inst: Instance, state: State) -> None:
        self._inst = inst
        self._state = state

    def __getitem__(self, slot: str) -> Value:
        try:
            i = self._inst.slot_index[slot]
        except KeyError:
            raise KeyError(f"the model has no slot {slot!r}") from None
        return self._inst.decode_slot(i, self._state[i])

    def value(self, definition: str, *args: Value) -> Value:
        """The value of ``definition(*args)`` here, e.g. ``view.value("owns", "v0", "p1")``."""
        return definition_value(self._inst, self._state, definition, args)

    def elements(self, sort: str) -> list[str]:
        """The elements of an index sort of the instance (``["v0", "v1"]``)."""
        return list(self._inst.elements(self._inst.model.sort(sort)))


class Adapter(Protocol):
    """What the conformance check needs from an implementation under test."""

    def start(self, model: ModelView) -> None: ...

    def perform(self, action: str, params: Mapping[str, Value], model: ModelView) -> None: ...

    def observe(self) -> Mapping[str, Value]: ...


def definition_value(inst: Instance, state: State, name: str, args: tuple[Value, ...] | list[Value]) -> Value:
    """Evaluate the model's definition ``name`` on display-valued arguments."""
    defn = next((d for d in inst.model.definitions if d.name == name), None)
    if defn is None:
        raise InputError(f"the model has no definition {name!r}")
    if len(args) != len(defn.params):
        raise InputError(f"{name} takes {len(defn.params)} argument(s), got {len(args)}")
    env = {}
    for p, a in zip(defn.params, args):
        if isinstance(p.dom, BoolDomain) and isinstance(a, str) and a in ("true", "false"):
            a = a == "true"
        try:
            env[p] = p.dom.encode(a, inst.sizes)
        except ValueError as e:
            raise InputError(f"{name}: {e}") from None
    code = evaluate(defn.body, inst, state, env)
    if isinstance(defn.body.dom, BoolDomain):
        return bool(code)
    return defn.body.dom.decode(int(code), inst.sizes)


class Conformer:
    """One run's comparison of an adapter with the model (used by the rule machine)."""

    def __init__(
        self,
        inst: Instance,
        adapter: Adapter,
        fail: Callable[[list[tuple[str, object, object]], str | None], NoReturn],
    ) -> None:
        self.inst = inst
        self.adapter = adapter
        self.fail = fail

    def start(self, state: State) -> None:
        self.adapter.start(ModelView(self.inst, state))
        self.compare(state)

    def step(self, action: Action, params: tuple[int, ...], pre: State, post: State) -> None:
        decoded = self.inst.decode_params(action, params)
        try:
            self.adapter.perform(action.name, decoded, ModelView(self.inst, pre))
        except Refused as e:
            self.fail([], str(e) or type(e).__name__)
        except LbrspecError:
            raise
        except Exception as e:  # the implementation crashed on a step of the model: a finding
            self.fail([], f"it raised {type(e).__name__}: {e}")
        self.compare(post)

    def compare(self, state: State) -> None:
        diffs: list[tuple[str, object, object]] = []
        for key, got in self.adapter.observe().items():
            want = self.model_value(key, state)
            if got != want or type(got) is not type(want):
                diffs.append((key, want, got))
        if diffs:
            self.fail(diffs, None)

    def model_value(self, key: str, state: State) -> Value:
        i = self.inst.slot_index.get(key)
        if i is not None:
            return self.inst.decode_slot(i, state[i])
        m = _APPLICATION.match(key)
        if m is None:
            raise InputError(f"observation {key!r} is neither a slot of the model nor a definition applied to elements")
        args = [a.strip() for a in m.group(2).split(",")] if m.group(2).strip() else []
        return definition_value(self.inst, state, m.group(1), args)

    def close(self) -> None:
        close = getattr(self.adapter, "close", None)
        if callable(close):
            close()
