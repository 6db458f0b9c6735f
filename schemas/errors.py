"""The project's own error types: each carries a one-line message fit for a user, never a traceback."""

import unicodedata

# Characters that could end a line, move the cursor or reorder text on a terminal or in Markdown:
# control characters, line and paragraph separators, bidirectional overrides.
_ESCAPED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_BIDI = set("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def shown(text: object) -> str:
    """Text (a file name, a message) fit for one line of output: every control character escaped."""
    value = str(text)
    if value.isprintable():
        return value
    out = []
    for ch in value:
        if ch in _ESCAPED:
            out.append(_ESCAPED[ch])
        elif unicodedata.category(ch) in ("Cc", "Zl", "Zp") or ch in _BIDI:
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out)


class LofteError(Exception):
    """A problem the user can act on; its message names the file (and line and column where known)."""

    def __init__(self, message: str) -> None:
        # One line, always: a key or value quoted from a broken file, or a file's name, may hold line
        # breaks or terminal control characters.
        super().__init__(shown(message))


class InputFileError(LofteError):
    """An input file that cannot be read at all (the other files of the run still load)."""


class ConfigError(LofteError):
    """A bad promises, areas or aliases file: the run stops before it changes anything."""


class WarehouseError(LofteError):
    """The warehouse cannot be reached, is locked, or refused the load."""


class DiskFullError(WarehouseError):
    """The warehouse's disk has no room for the run (checked before it, or hit during it)."""
