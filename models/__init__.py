"""Models checked by lbrspec.  Imported as ``lbrspec_models`` (this folder is mapped to that
package name in ``pyproject.toml``, so it cannot clash with other packages called ``models``).

* :mod:`lbrspec_models.guest_lbr`: the v8 guest LBR design, its variants and mutants.

Each model module follows the protocol of :mod:`lbrspec.modelref`; ``--model NAME`` selects
one of :data:`SHIPPED` by name.
"""

#: The modules of this package that are models, by the name ``--model`` takes; the first is
#: listed first by ``lbrspec list``.
SHIPPED: tuple[str, ...] = ("guest_lbr",)
