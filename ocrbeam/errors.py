"""Errors that end a command with one readable line instead of a traceback."""


class UsageError(Exception):
    """The user's own mistake (a missing input, an unwritable output, a bad
    flag): ``ocrbeam`` prints the message and exits with status 2."""
