"""The Z3 back end: the model's transition system as first-order formulas.

One translator (:mod:`lbrspec.smt.encode`) turns the same :class:`~lbrspec.lang.spec.Model`
data that the explicit engine evaluates into Z3 terms, case by case as
:mod:`lbrspec.explicit.evaluate` does: one copy of the state variables per step, the transition
relation as a case split on which action fires (its parameters existentially bound, the frame
generated), the invariants as formulas.  Two interpretations of the index sorts exist:

* a **finite instance** (``2 vCPUs, 2 pCPUs, 1 host user``): each sort is a Z3 enumeration
  with exactly that many elements and quantifiers are unrolled, so every query is ground;
* **every size** (``--all-sizes``): each sort is an uninterpreted Z3 sort, quantifiers stay
  quantifiers, and a proof holds for any number of vCPUs, pCPUs and host users.

On top of it:

* :mod:`lbrspec.smt.bmc`: bounded model checking of a finite instance;
* :mod:`lbrspec.smt.induction`: initiation and consecution of every invariant relative to the
  strengthening lemmas (``proofs/``), and the largest inductive subset (Houdini);
* :mod:`lbrspec.smt.cti`: counterexamples to induction, classified against the explorer's
  reachable states (reachable: a real bug; unreachable: the lemmas need strengthening);
* :mod:`lbrspec.smt.fragment`: the sort graph of the unbounded queries, and whether they lie
  in the decidable (stratified EPR) fragment;
* :mod:`lbrspec.smt.solving`: time budgets, and ``unknown`` as an answer.

Every solver answer that claims a behaviour (a BMC trace, a counterexample to induction) is
decoded into display values and re-checked by the reference semantics before anyone sees it; a
disagreement is an :class:`~lbrspec.errors.InternalError`.  An ``unknown`` or timed-out solver
answer is *undetermined*, never a proof.
"""
