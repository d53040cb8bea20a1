"""Errors a user can cause, each turned by the CLI into one line and an exit code.

Anything else that escapes is a bug in forgetcheck and keeps its traceback.
"""


class ForgetcheckError(Exception):
    """A problem the user can fix; the message says what and how."""

    exit_code = 2


class BadInput(ForgetcheckError):
    """A file, model, option or suite that cannot be used as given (exit code 2)."""


class ModelNotFound(BadInput):
    """A model path or Hub id that does not exist or cannot be reached."""


class UnsafeModel(BadInput):
    """Loading would run untrusted code (pickle weights, remote code) without consent."""
