"""The project's own error types: each carries a one-line message fit for a user, never a traceback."""


class LofteError(Exception):
    """A problem the user can act on; its message names the file (and line and column where known)."""

    def __init__(self, message: str) -> None:
        # One line, always: a key or value quoted from a broken file may hold line breaks.
        super().__init__(message.replace("\r", "\\r").replace("\n", "\\n"))


class InputFileError(LofteError):
    """An input file that cannot be read at all (the other files of the run still load)."""


class ConfigError(LofteError):
    """A bad promises, areas or aliases file: the run stops before it changes anything."""


class WarehouseError(LofteError):
    """The warehouse cannot be reached, is locked, or refused the load."""


class DiskFullError(WarehouseError):
    """The warehouse's disk has no room for the run (checked before it, or hit during it)."""
