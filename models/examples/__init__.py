"""Classic protocols from the TLA+ Examples repository, written in lbrspec's model language.

Each module is one published specification and configuration; explored without symmetry
reduction, it has exactly as many reachable states as TLC reports for the original
(``SOURCES.md`` in this folder gives the spec, the configuration, the count and what TLC counts).
Every module exposes:

* ``build(variant) -> Model`` and ``VARIANTS`` (the published design and mutants, each mutant
  with the property it is known to break), ``DEFAULT_VARIANT``;
* ``DEFAULT_SIZES``: the published configuration's sizes of the index sorts;
* ``CHECK_DEADLOCK``: whether TLC's configuration checks for deadlock (TCommit's does not: a
  finished transaction has no step left);
* ``SOURCE``: where the original lives.

Every module is a model file that ``lbrspec check --model models/examples/NAME.py`` checks like
any other (see ``docs/language.md`` for the language and the protocol).
"""

#: The example modules, in the order SOURCES.md lists them.
EXAMPLES = (
    "tcommit",
    "twophase",
    "twopc_btm",
    "lock",
    "simple_allocator",
    "peterson",
    "dining_philosophers",
    "teaching_concurrency",
)
