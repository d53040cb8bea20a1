"""forgetcheck: what did this fine-tune make the model forget, and is the loss real?"""

__version__ = "0.1.0"

from forgetcheck.errors import BadInput, ForgetcheckError  # noqa: E402

__all__ = ["BadInput", "ForgetcheckError", "__version__", "compare"]


def compare(*args, **kwargs):
    """Compare a candidate with its base; see :func:`forgetcheck.workflows.compare.compare`."""
    from forgetcheck.workflows.compare import compare as _compare

    return _compare(*args, **kwargs)
