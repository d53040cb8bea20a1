"""``forgetcheck cache info|clear``: look at and empty the per-item result cache."""

from __future__ import annotations

import click

from forgetcheck.errors import BadInput, ForgetcheckError


@click.group()
def cache() -> None:
    """The per-item result cache (FORGETCHECK_CACHE, default ~/.cache/forgetcheck)."""


@cache.command()
def info() -> None:
    """Where the cache is, how big, and how many results each model has."""
    from forgetcheck.results.store import ResultCache

    details = ResultCache().info()
    click.echo(f"result cache: {details['location']}")
    if "error" in details:
        raise BadInput(f"result cache {details['location']} is unreadable ({details['error']}); "
                       "`forgetcheck cache clear` starts a fresh one")
    click.echo(f"entries: {details['entries']} · size: {_size(details['size_bytes'])}")
    for model in details["models"]:
        side = " (adapter off)" if model["adapter_disabled"] else ""
        click.echo(f"  {model['entries']:>7}  {model['label']}{side} · {model['dtype']} · {model['device']} · "
                   f"engine {model['engine']}")


@cache.command()
@click.option("--model", "spec", default=None,
              help="Clear only this model's results (a folder, .gguf, adapter or Hub id, as given to compare).")
def clear(spec) -> None:
    """Delete cached results: all of them, or one model's."""
    from forgetcheck.results.store import ResultCache
    from forgetcheck.models.specs import resolve

    store = ResultCache()
    if spec is None:
        count = store.clear()
    else:
        try:
            fingerprints = [resolve(spec).resolved]
        except ForgetcheckError:
            fingerprints = []  # gone from disk: match the name it was compared under
        try:
            count = store.clear(fingerprints, label=spec)
        except Exception as exc:  # sqlite3.Error; a corrupt database needs a full clear
            raise BadInput(f"result cache {store.path} is unreadable ({exc}); run `forgetcheck cache clear`") from None
    click.echo(f"cleared {count} cached result{'s' if count != 1 else ''} from {store.path}")


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"
