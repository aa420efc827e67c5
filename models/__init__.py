"""Models checked by lbrspec.  Imported as ``lbrspec_models`` (this folder is mapped to that
package name in ``pyproject.toml``, so it cannot clash with other packages called ``models``).

* :mod:`lbrspec_models.guest_lbr`: the v8 guest LBR design, its variants and mutants.
"""
