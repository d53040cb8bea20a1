"""Errors a user can cause, each turned by the CLI into one line and an exit code.

The exit codes are a contract with CI: 1 must only ever mean "a capability
regressed", so nothing that failed to finish may exit 1. Anything that escapes as
another exception is a bug in forgetcheck: the CLI shows its traceback and exits
:data:`EXIT_FAILED`, which the Action reports as an error, never as a regression.
"""

EXIT_HELD = 0  # nothing regressed (or --fail-on never)
EXIT_REGRESSED = 1  # a capability regressed
EXIT_BAD_INPUT = 2  # bad usage, file, model or option: one line, no traceback
EXIT_INCONCLUSIVE = 3  # with --fail-on inconclusive
EXIT_FAILED = 4  # could not finish: the machine (disk full, unwritable folder) or a bug in forgetcheck
EXIT_INTERRUPTED = 130  # Ctrl-C, as shells report SIGINT


class ForgetcheckError(Exception):
    """A problem the user can fix; the message says what and how."""

    exit_code = EXIT_BAD_INPUT


class BadInput(ForgetcheckError):
    """A file, model, option or suite that cannot be used as given (exit code 2)."""


class ModelNotFound(BadInput):
    """A model path or Hub id that does not exist or cannot be reached."""


class UnsafeModel(BadInput):
    """Loading would run untrusted code (pickle weights, remote code) without consent."""
