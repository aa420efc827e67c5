"""Text that is safe to print: the one helper every printer of lbrspec passes text through.

A trace file is data from anywhere: its ``#meta`` (description, model, variant, the property it
says it violates) and its names (actions, parameters, values) may hold terminal escape
sequences, bidirectional overrides or line breaks.  :func:`printable` escapes them the way
Python writes them in a string literal (``\\x1b``, ``\\u202e``), so that what a command prints
is what the file holds, and never drives the terminal.  :func:`error_line` also caps the length
of an error message, which may quote a long piece of input.
"""

from __future__ import annotations

import re
import unicodedata

#: The longest error line (before its prefix) the CLI prints; the rest is cut, and its length said.
MAX_ERROR_CHARS = 500

#: Categories escaped: control characters, format characters (bidirectional overrides,
#: zero-width characters), surrogates, and line and paragraph separators.
_ESCAPED = {"Cc", "Cf", "Cs", "Zl", "Zp"}
_SHORT = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}
_FAST = re.compile(r"[ -~]*")  # printable ASCII only: nothing to escape


def _escape(c: str) -> str:
    if c in _SHORT:
        return _SHORT[c]
    n = ord(c)
    return f"\\x{n:02x}" if n < 0x100 else f"\\u{n:04x}" if n < 0x10000 else f"\\U{n:08x}"


def printable(text: str, *, newlines: bool = False) -> str:
    """``text`` with every control or format character escaped (``\\x1b``); ``newlines`` keeps
    line breaks ``\\n`` (for multi-line output such as a diagram), otherwise they are escaped."""
    if _FAST.fullmatch(text) or (newlines and all(_FAST.fullmatch(part) for part in text.split("\n"))):
        return text
    return "".join(c if (newlines and c == "\n") or unicodedata.category(c) not in _ESCAPED else _escape(c)
                   for c in text)


def error_line(message: str, limit: int = MAX_ERROR_CHARS) -> str:
    """``message`` as one printable line of at most about ``limit`` characters: what is cut is
    replaced by an ellipsis and the message's full length."""
    text = printable(message)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text):,} characters in all)"
