"""What the two guest LBR designs share: the sorts, the host scheduler, the host LBR users'
lifecycle and the per-pCPU LBR hardware.

lbrspec models two designs of KVM's guest LBR emulation: the v8 series as posted
(:mod:`lbrspec_models.guest_lbr`) and the design merged for Linux 5.12 with its later fixes
(:mod:`lbrspec_models.upstream_lbr`).  They differ in KVM (when the event is created and
released, when pass-through is granted) and in how perf ranks the guest's event against host
LBR users; they do not differ in what is underneath.  This module holds that common ground, as
functions that add machines, variables and transitions to a :class:`~lbrspec.lang.Spec`, so a
reader sees at a glance what is common and each model says only how its design differs:

============================ =================================================================
:data:`V`, :data:`P`, :data:`H` the index sorts: vCPU threads, pCPUs, host LBR users
:data:`Tag`                     whose values a piece of LBR state holds (nobody, the host, a vCPU)
:data:`Target`, :data:`Hu`      what a host LBR user profiles, and its perf event's state
:func:`add_scheduler`           the host scheduler: which pCPU each vCPU thread is on, whether it
                                runs; switching a thread in and out
:func:`add_host_users`          the host users' variables; :func:`host_open_pinned`,
                                :func:`host_open_flex`, :func:`host_open_task`,
                                :func:`host_sample`, :func:`host_close` their lifecycle steps
:func:`add_lbr_hw`              each pCPU's LBR: whose records and whose ``LBR_SELECT`` it holds
============================ =================================================================

Where the designs differ inside one of these pieces (which machines a machine reads, perf's
priority rules when a host event is installed), the model passes it in or writes that step
itself.  The functions add declarations in the order they are called, so a model that calls
them where it used to declare the same things builds the same model.
"""

from __future__ import annotations

from collections.abc import Sequence

from lbrspec.lang import ANY, BOOL, EnumDomain, Expr, Sort, Spec, UnionDomain, exists, forall

# -- sorts and domains ---------------------------------------------------------------------------
V = Sort("vCPU", "v", doc="a vCPU and the host thread that runs it")
P = Sort("pCPU", "p", doc="a physical CPU, with its own LBR")
H = Sort("host_user", "h", doc="a host perf LBR user: a CPU-pinned, CPU-flexible or task event")

Tag = UnionDomain(
    "lbr_tag",
    consts=("none", "host"),
    ctors=(("vcpu", V),),
    doc="whose values a piece of LBR state holds: reset/never written, a host user's, a guest's",
)
Target = UnionDomain(
    "host_target",
    consts=("none",),
    ctors=(("pinned", P), ("flex", P), ("task", V)),
    doc="what a host LBR user profiles: nothing (closed), one pCPU with a pinned or a flexible event, or one "
        "vCPU thread",
)
Hu = EnumDomain(
    "host_state",
    ["OFF", "IPI", "ACTIVE", "INACTIVE", "SHARED", "FAILED"],
    doc="a host LBR user's event: closed, install IPI pending, owns the LBR, waiting for it, sharing it with the "
        "vCPU event, or failed (a CPU-pinned event that lost to another CPU-pinned one: perf's error state)",
)


class Scheduler:
    """The scheduler machine and what a model uses of it."""

    def __init__(self, machine, running, cpu, switch_in, switch_out) -> None:
        self.machine = machine
        self.running = running
        self.cpu = cpu
        self.switch_in = switch_in
        self.switch_out = switch_out


def add_scheduler(spec: Spec) -> Scheduler:
    """Add the host scheduler: ``running[v]``, ``cpu[v]``, and the transitions ``switch_in(v, p)``
    (thread v goes on idle pCPU p) and ``switch_out(v)``.  A model synchronises them with its
    own sched-in and sched-out work (perf's context switch, KVM's hooks)."""
    return schedule(add_scheduler_vars(spec))


def schedule(sched: Scheduler) -> Scheduler:
    """Declare the scheduler's transitions on a machine made by :func:`add_scheduler_vars`."""
    running, cpu = sched.running, sched.cpu
    sched.switch_in = sched.machine.transition(
        "switch_in", {"v": V, "p": P},
        guard=lambda v, p: ~running[v] & forall(V, lambda w: ~(running[w] & (cpu[w] == p))),
        updates=lambda v, p: [running[v].becomes(True), cpu[v].becomes(p)],
        doc="the scheduler puts thread v on idle pCPU p (a migration if p differs from the last one)",
    )
    sched.switch_out = sched.machine.transition(
        "switch_out", {"v": V}, guard=lambda v: running[v], updates=lambda v: [running[v].becomes(False)],
        doc="the scheduler takes thread v off its pCPU",
    )
    return sched


def add_scheduler_vars(spec: Spec) -> Scheduler:
    """The scheduler machine and its variables only; :func:`schedule` declares its transitions
    later (guest_lbr declares every machine's variables before any transition)."""
    sched = spec.machine("sched", doc="The host scheduler's view of the vCPU threads.")
    running = sched.var("running", BOOL, index=[V], init=False, doc="the vCPU thread is on a pCPU")
    cpu = sched.var("cpu", P, index=[V], init=ANY, doc="the pCPU the thread runs on, or last ran on")
    return Scheduler(sched, running, cpu, None, None)


def add_host_users(spec: Spec, reads: Sequence[str], patch: str = ""):
    """Add the ``host`` machine with ``hu[h]`` (its event's state) and ``target[h]`` (what it
    profiles); returns ``(machine, hu, target)``.  The lifecycle steps are added by the
    functions below, perf's scheduling of the events by the model (it is where the designs
    differ)."""
    host = spec.machine("host", doc="Host LBR users and the perf core's scheduling of them.", reads=list(reads),
                        patch=patch)
    hu = host.var("hu", Hu, index=[H], init="OFF", doc="the host user's LBR event state")
    target = host.var("target", Target, index=[H], init="none",
                      doc="what the host user profiles: a pCPU (pinned or flexible) or a vCPU thread (task event)")
    return host, hu, target


def host_open_pinned(host, hu, target):
    """``perf_event_open`` of a CPU-pinned LBR event: its install IPI is pending."""
    return host.transition(
        "host_open_pinned", {"h": H, "p": P},
        guard=lambda h, p: hu[h] == Hu.OFF,
        updates=lambda h, p: [hu[h].becomes(Hu.IPI), target[h].becomes(Target("pinned", p))],
        doc="perf_event_open with attr.pinned for CPU p (perf record -e cycles:D -b -C p): a CPU-pinned LBR event; "
            "perf_install_in_context sends an IPI to p",
    )


def host_open_flex(host, hu, target, outranked_by: str = "the task-pinned vCPU event"):
    """``perf record -b -C p``: a CPU-flexible LBR event, installed by IPI."""
    return host.transition(
        "host_open_flex", {"h": H, "p": P},
        guard=lambda h, p: hu[h] == Hu.OFF,
        updates=lambda h, p: [hu[h].becomes(Hu.IPI), target[h].becomes(Target("flex", p))],
        doc=f"perf record -b -C p: a CPU-flexible LBR event, below {outranked_by}; installed by IPI",
    )


def host_open_task(host, hu, target, host_task_of):
    """``perf record -b -t``: a task LBR event on a vCPU thread (at most one per thread)."""
    return host.transition(
        "host_open_task", {"h": H, "v": V},
        guard=lambda h, v: (hu[h] == Hu.OFF) & forall(H, lambda h2: ~host_task_of(h2, v)),
        updates=lambda h, v: [hu[h].becomes(Hu.INACTIVE), target[h].becomes(Target("task", v))],
        doc="perf record -b -t: a task LBR event on vCPU thread v, scheduled at its next sched-in (assumption A3)",
    )


def host_sample(host, hu, states=(Hu.ACTIVE, Hu.SHARED), obs: "Observer | None" = None, sees_guest=None):
    """A PMI of a host user: it reads the LBR records of the pCPU it runs on.  With an
    :class:`Observer`, ``sees_guest(h)`` (what the host user finds is the guest's) marks
    ``host_never_samples_guest``."""
    return host.transition(
        "host_sample", {"h": H},
        guard=lambda h: hu[h].in_(*states),
        updates=lambda h: obs.mark("host_never_samples_guest", sees_guest(h)) if obs is not None else [],
        doc="a PMI: the host user reads the LBR records of the pCPU it runs on",
    )


def host_close(host, hu, target):
    """The host user exits: its event is removed."""
    return host.transition(
        "host_close", {"h": H},
        guard=lambda h: hu[h].in_(Hu.ACTIVE, Hu.INACTIVE, Hu.SHARED, Hu.FAILED),
        updates=lambda h: [hu[h].becomes(Hu.OFF), target[h].becomes(Target.none)],
        doc="the host user exits: its event is removed and the LBR released",
    )


def add_lbr_hw(spec: Spec, reads: Sequence[str]):
    """Add the ``lbr_hw`` machine: ``rec[p]`` (whose branch records p's LBR stack holds) and
    ``sel[p]`` (whose filter its ``LBR_SELECT`` holds); returns ``(machine, rec, sel)``.  What
    writes them (perf's reset, context switch, a host user programming it, the guest) is the
    model's."""
    lbr_hw = spec.machine(
        "lbr_hw",
        doc="Each pCPU's physical LBR: whose records and whose LBR_SELECT it holds.",
        reads=list(reads),
    )
    rec = lbr_hw.var("rec", Tag, index=[P], init="none", doc="whose branch records the LBR stack holds")
    sel = lbr_hw.var("sel", Tag, index=[P], init="none", doc="whose filter LBR_SELECT holds")
    return lbr_hw, rec, sel


# -- the properties both designs are compared on -------------------------------------------------
class Observation:
    """One property of the comparison of designs (``lbrspec compare``): something a KVM or perf
    developer cares about whatever the design, stated once here and checked in every model that
    can express it.

    ``kind`` says how a model makes it checkable:

    * ``"event"``: a thing that happens at a step (a warning, a read, a release).  Each model marks
      the steps where it can happen with :meth:`Observer.mark`; the mark sets a ghost flag
      ``seen_<name>`` that stays set, and the property is the state invariant "the flag is clear".
      The flag is set by the step that does the harm, so a counterexample ends with that step,
      exactly as the model's own step invariant would.
    * ``"state"``: a condition of one state (pass-through without ownership).  The property is the
      formula of :meth:`Observer.state`, built here from the terms each model gives it.
    """

    def __init__(self, name: str, title: str, doc: str, kind: str) -> None:
        assert kind in ("event", "state")
        self.name, self.title, self.doc, self.kind = name, title, doc, kind

    def __repr__(self) -> str:
        return f"Observation({self.name!r})"


OBSERVATIONS: dict[str, Observation] = {o.name: o for o in [
    Observation("kvm_never_touches_unowned_lbr", "KVM never touches the LBR MSRs after a reclaim",
                "KVM reads or writes a physical LBR MSR for a vCPU only while that vCPU's perf event has the pCPU's "
                "LBR.", "state"),
    Observation("passthrough_only_when_owned", "no pass-through without ownership",
                "A vCPU in guest mode has its LBR MSRs passed through only while its perf event has the pCPU's LBR.",
                "state"),
    Observation("guest_never_reads_foreign", "the guest never sees host data",
                "No guest read of the LBR returns records or an LBR_SELECT that the host or another vCPU wrote.",
                "event"),
    Observation("host_never_samples_guest", "the host never sees guest branches",
                "No host LBR user samples guest branch records or a guest LBR_SELECT.", "event"),
    Observation("host_pinned_keeps_lbr", "the host never loses the LBR silently",
                "A host CPU-pinned LBR event that perf has installed without error has the pCPU's LBR: no vCPU's "
                "event holds it, and the host event is not left waiting for it.", "state"),
    Observation("guest_records_survive_resched", "guest records survive a reschedule",
                "The branch records a guest had in the LBR when its vCPU thread was switched out are what it reads "
                "afterwards (a vCPU reset forgets them legitimately).", "event"),
    Observation("no_release_while_guest_uses_lbr", "no release while the guest records",
                "The vCPU's perf event is not released while the guest has DEBUGCTL.LBR set.", "event"),
    Observation("host_never_warns", "no host WARN", "Nothing a guest or its VMM does makes the host WARN.", "event"),
    Observation("host_never_oopses", "no host oops",
                "Nothing a guest does makes the host dereference a NULL or freed perf event.", "event"),
    Observation("host_never_sleeps_in_atomic", "no sleep in atomic context",
                "The vCPU's perf event is never released (which may sleep) from atomic context.", "event"),
]}


def foreign(v, t):
    """LBR state ``t`` was written by the host or by another vCPU than ``v``: the same test in both
    models' isolation properties."""
    return (t != Tag.none) & (t != Tag("vcpu", v))


class Observer:
    """The ghosts and properties of the selected :data:`OBSERVATIONS` in one build of a model.

    A model built with ``observe=()`` (every command but ``lbrspec compare``) gets none of them:
    its state space and figures are those of the model alone.  ``lbrspec compare`` builds a
    design once per property, with that one property selected, so no other property's ghost or
    pruning changes its shortest counterexample.

    The model calls :meth:`declare` where it declares its variables (the ghost flag belongs to the
    machine whose steps set it), :meth:`mark` in the updates of each step where the event can
    happen, and :meth:`state` with the terms of a state observation.  An observation the model
    never declares is *not applicable* to it; the model says why in ``OBSERVATION_GAPS``.
    """

    def __init__(self, spec: Spec, observe=()) -> None:
        from lbrspec.errors import InputError

        unknown = sorted(set(observe) - set(OBSERVATIONS))
        if unknown:
            raise InputError(f"unknown observation(s) {', '.join(unknown)}; known: {', '.join(OBSERVATIONS)}")
        self.spec = spec
        self.selected = frozenset(observe)
        self.flags: dict[str, object] = {}

    def __contains__(self, name: str) -> bool:
        return name in self.selected

    def declare(self, machine, name: str) -> None:
        """Declare the ghost flag of event observation ``name`` in ``machine`` (if selected) and
        the property that it stays clear."""
        o = OBSERVATIONS[name]
        assert o.kind == "event", name
        if name not in self.selected:
            return
        flag = machine.var(f"seen_{name}", BOOL, init=False, ghost=True,
                           doc=f"ghost for lbrspec compare: {o.title} is broken at some step so far")
        self.flags[name] = flag
        self.spec.invariant(name, ~flag(), doc=f"{o.doc}\nShared property of lbrspec compare (lbr_common).",
                            patch="lbr_common")

    def mark(self, name: str, cond) -> list:
        """The update that records event ``name`` when ``cond`` holds at this step (none if the
        observation is not selected).  ``cond`` may be a function of no arguments, built only
        when the observation is selected (for a condition over a ghost that exists only then)."""
        flag = self.flags.get(name)
        if flag is None:
            return []
        return [flag().becomes(flag() | (cond() if callable(cond) and not isinstance(cond, Expr) else cond))]

    def state(self, name: str, bad) -> None:
        """State observation ``name``: ``bad`` (a closed formula) must never hold."""
        o = OBSERVATIONS[name]
        assert o.kind == "state", name
        if name in self.selected:
            self.spec.invariant(name, ~bad, doc=f"{o.doc}\nShared property of lbrspec compare (lbr_common).",
                                patch="lbr_common")

    def host_pinned_loses(self, hu, target, vcpu_owns_lbr):
        """The bad state of ``host_pinned_keeps_lbr``, over the shared host variables and the
        model's "some vCPU's event has p's LBR"."""
        return exists(H, lambda h: exists(P, lambda p: (target[h] == Target("pinned", p)) & (
            (hu[h] == Hu.INACTIVE) | ((hu[h] == Hu.ACTIVE) & vcpu_owns_lbr(p)))))

    def unowned(self, runs_on, owns, doing):
        """The bad state of the two ownership observations: some vCPU running on p is ``doing``
        something with the LBR while its event does not own p's LBR."""
        return exists(V, lambda v: exists(P, lambda p: runs_on(v, p) & doing(v) & ~owns(v, p)))
