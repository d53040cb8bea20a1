"""huggingface_hub's failures as one line that names what was asked for and what to do.

Resolving a model spec (:mod:`forgetcheck.models.specs`) and the Hub integration
(:mod:`forgetcheck.integrations.hub`) both talk to the Hub; both translate its
exceptions here, each raising its own error class, so a missing repo or a refused
token reads the same wherever it happens. Messages quoted from the Hub are cut to one
line and redacted of anything that looks like a token.
"""

from __future__ import annotations

from contextlib import contextmanager

from forgetcheck.errors import BadInput, ForgetcheckError

UNREACHABLE = "the Hub cannot be reached; check HF_ENDPOINT and the network"


@contextmanager
def hub_errors(where: str, error: type[ForgetcheckError] = BadInput, *, revision: str | None = None,
               unreachable: str = UNREACHABLE):
    """Turn huggingface_hub's exceptions inside the block into ``error(f"{where}: ...")``.

    ``revision``: the revision asked for, named when it is not found; ``unreachable``:
    what to say when the Hub cannot be reached (a model spec may be a mistyped path).
    """
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    try:  # huggingface_hub 1.x and later speak HTTP through httpx2, whose network errors are no OSError
        from httpx2 import TransportError
    except ImportError:
        TransportError = OSError  # noqa: N806

    try:
        yield
    except RevisionNotFoundError:
        asked = f"revision {revision!r}" if revision else "revision"
        raise error(f"{where}: {asked} not found on the Hub; check the branch, tag or commit") from None
    except GatedRepoError:
        raise error(f"{where}: gated on the Hub; accept its terms and set HF_TOKEN") from None
    except RepositoryNotFoundError:
        raise error(f"{where}: not found on the Hub (or private: set HF_TOKEN); check the id") from None
    except LocalEntryNotFoundError:
        raise error(f"{where}: {unreachable}") from None
    except HfHubHTTPError as exc:
        status = getattr(exc.response, "status_code", None)
        if status in (401, 403):
            raise error(f"{where}: the Hub refused the token ({status}); set HF_TOKEN to a token with access to "
                        "this repository") from None
        if status == 404:
            raise error(f"{where}: not found on the Hub (404); check the repository id and number") from None
        raise error(f"{where}: the Hub answered {status} ({first_line(exc)})") from None
    except ValueError as exc:  # huggingface_hub's own argument checks (a bad repo id, a bad number)
        raise BadInput(f"{where}: {first_line(exc)}") from None
    except (OSError, TransportError) as exc:
        raise error(f"{where}: {unreachable} ({type(exc).__name__})") from None


def first_line(exc: Exception) -> str:
    """The first line of an exception's message, redacted, at most 300 characters."""
    from forgetcheck.integrations.redaction import redact_tokens

    return redact_tokens((str(exc).strip().splitlines() or [type(exc).__name__])[0])[:300]
