"""A resource allocator (Merz's SimpleAllocator): clients request, obtain and return resources.

A client with nothing requested and nothing held may ask for a set of resources.  The
allocator may grant a client any part of its outstanding request that no client holds; a
client may return any resources it holds, even before its whole request is satisfied.
Safety: no resource is held by two clients at once.  (The original also states liveness under
fairness, that every request is eventually satisfied; only safety is modelled here.)

Source: ``specifications/allocator/SimpleAllocator.tla`` in the TLA+ Examples repository
(github.com/tlaplus/Examples, MIT licence), by Stephan Merz, model ``SimpleAllocator.cfg``.
The repository's manifest records **400** distinct states, the number for three clients and
two resources (the configuration file itself is not stored in the index we searched; 400 is
20 squared, 20 being the number of ways three clients can relate to one resource: each one
requests it, holds it or neither, at most one holding it; no other small configuration gives
400).  Deadlock checking is on (a client can always request again).

Modelling notes: the variables are the original's, ``unsat[c]`` and ``alloc[c]``, each a set
of resources, here a boolean per (client, resource).  The original's actions take a *set* ``S``
of resources as a parameter; lbrspec parameters range over elements, so each action here moves
one resource: ``Allocate`` and ``Return`` of a set are the same as doing it one resource at a
time, every intermediate state being itself the result of a smaller ``Allocate`` or
``Return``.  ``Request(c, S)`` needs ``unsat[c] = {}``; here a client that holds nothing adds one
resource at a time to its request, which reaches exactly the states ``Request`` reaches (any
request made of an idle client).  So the reachable states, and their number, are the
original's; TLC's *transitions* differ (a set-valued step is several steps here).
"""

from __future__ import annotations

from lbrspec.errors import InputError
from lbrspec.lang import BOOL, Model, Sort, Spec, Variant, exists, forall, implies

SOURCE = "tlaplus/Examples specifications/allocator/SimpleAllocator.tla, SimpleAllocator.cfg"

#: TLC checks this configuration for deadlock (the default), and finds none.
CHECK_DEADLOCK = True

VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in [
        Variant("simple-allocator", "The simple allocator as published.", kind="design"),
        Variant(
            "grant-held-resource",
            "Mutant: the allocator grants a requested resource without checking that it is available.",
            kind="mutant",
            expected="resource_mutex",
            switches={"check_available": False},
        ),
    ]
}

DEFAULT_VARIANT = "simple-allocator"

#: Three clients, two resources: the configuration whose count is 400.
DEFAULT_SIZES = {"Client": 3, "Resource": 2}

Client = Sort("Client", "c", doc="a client of the allocator")
Resource = Sort("Resource", "r", doc="a resource the allocator manages")


def build(variant: str = DEFAULT_VARIANT) -> Model:
    """The allocator model for ``variant`` (see :data:`VARIANTS`)."""
    if variant not in VARIANTS:
        raise InputError(f"unknown variant {variant!r}; known: {', '.join(VARIANTS)}")
    var = VARIANTS[variant]
    check_available = var.switches.get("check_available", True)
    spec = Spec("simple_allocator", sorts=[Client, Resource], doc=__doc__ or "", default_sizes=DEFAULT_SIZES)

    m = spec.machine("allocator", doc="The clients' outstanding requests and the resources they hold.")
    unsat = m.var("unsat", BOOL, index=[Client, Resource], init=False, doc="c has requested r and not yet been granted it")
    alloc = m.var("alloc", BOOL, index=[Client, Resource], init=False, doc="c holds r")

    available = spec.define("available", {"r": Resource}, lambda r: forall(Client, lambda c: ~alloc[c, r]),
                            doc="no client holds r")
    idle = spec.define("idle", {"c": Client}, lambda c: forall(Resource, lambda r: ~alloc[c, r]),
                       doc="c holds nothing")

    m.transition(
        "Request", {"c": Client, "r": Resource},
        guard=lambda c, r: idle(c) & ~unsat[c, r],
        updates=lambda c, r: [unsat[c, r].becomes(True)],
        doc="a client that holds nothing asks for r (a request for a set S is one such step per element)",
    )
    m.transition(
        "Allocate", {"c": Client, "r": Resource},
        guard=lambda c, r: unsat[c, r] & (available(r) if check_available else True),
        updates=lambda c, r: [alloc[c, r].becomes(True), unsat[c, r].becomes(False)],
        doc="the allocator grants c the requested resource r, which nobody holds",
    )
    m.transition(
        "Return", {"c": Client, "r": Resource},
        guard=lambda c, r: alloc[c, r],
        updates=lambda c, r: [alloc[c, r].becomes(False)],
        doc="c gives r back",
    )

    spec.invariant(
        "resource_mutex",
        forall(Resource, lambda r: forall(Client, lambda c1: forall(
            Client, lambda c2: implies(c1 != c2, ~(alloc[c1, r] & alloc[c2, r]))))),
        doc="No resource is held by two clients (ResourceMutex).",
    )
    spec.invariant(
        "granted_is_not_outstanding",
        forall(Client, lambda c: forall(Resource, lambda r: ~(unsat[c, r] & alloc[c, r]))),
        doc="A resource a client holds is no longer part of its outstanding request.",
    )
    spec.goal("client_holds_everything", lambda c: forall(Resource, lambda r: alloc[c, r]), params={"c": Client},
              doc="Every client at some point holds every resource.")
    spec.goal("waiting_for_a_held_resource",
              exists(Client, lambda c: exists(Client, lambda d: exists(Resource, lambda r: unsat[c, r] & alloc[d, r]))),
              doc="A client waits for a resource another client holds.")
    return spec.build(var)
