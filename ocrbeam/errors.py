"""Errors that end a command with one readable line instead of a traceback."""


class UsageError(Exception):
    """The user's own mistake (a missing input, an unwritable output, a bad
    flag): ``ocrbeam`` prints the message and exits with status 2."""


class RunFailed(Exception):
    """The run could not complete for a reason outside ocrbeam (the output
    store went away): ``ocrbeam`` prints the message and exits with status 1.
    What the run finished before stays; a rerun completes it."""
