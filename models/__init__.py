"""Models checked by lbrspec.  Imported as ``lbrspec_models`` (this folder is mapped to that
package name in ``pyproject.toml``, so it cannot clash with other packages called ``models``).

* :mod:`lbrspec_models.guest_lbr`: the v8 guest LBR design, its variants and mutants;
* :mod:`lbrspec_models.upstream_lbr`: the design merged for Linux 5.12 with its later fixes and
  the 2023 proposals;
* :mod:`lbrspec_models.lbr_common`: what both designs share (sorts, scheduler, host LBR users,
  the LBR hardware), not a model itself;
* :mod:`lbrspec_models.examples`: classic protocols with published state counts (``--model
  tcommit``, ``--model peterson``...).

Each model module follows the protocol of :mod:`lbrspec.modelref`; ``--model NAME`` selects
one of :data:`SHIPPED` by name.
"""

#: The modules of this package that are models, by the name ``--model`` takes; the first is
#: listed first by ``lbrspec list``.
from .examples import EXAMPLES as _EXAMPLES

SHIPPED: dict[str, str] = {
    "guest_lbr": "lbrspec_models.guest_lbr",
    "upstream_lbr": "lbrspec_models.upstream_lbr",
    **{name: f"lbrspec_models.examples.{name}" for name in _EXAMPLES},
}
"""Each shipped model's name (what ``--model`` takes) and its module."""
