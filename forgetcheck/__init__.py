"""forgetcheck: what did this fine-tune make the model forget, and is the loss real?"""

from forgetcheck.errors import BadInput, ForgetcheckError
from forgetcheck.version import __version__

__all__ = ["BadInput", "ForgetcheckError", "__version__", "compare", "compare_many"]


def compare(*args, **kwargs):
    """Compare a candidate with its base; see :func:`forgetcheck.workflows.compare.compare`."""
    from forgetcheck.workflows.compare import compare as _compare

    return _compare(*args, **kwargs)


def compare_many(*args, **kwargs):
    """Compare several candidates with one base in one run; see :func:`forgetcheck.workflows.compare.compare_many`."""
    from forgetcheck.workflows.compare import compare_many as _compare_many

    return _compare_many(*args, **kwargs)
