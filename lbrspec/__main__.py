"""``python -m lbrspec``: the same as the ``lbrspec`` command."""

from .entry import main

main()
