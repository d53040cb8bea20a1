"""The result store: per-item scores and a few larger results kept on disk, and nothing else.

In CI only the candidate changes between runs, so the base's scores are worth
keeping. The store knows where it lives (:func:`default_root`) and how to read and
write records; what a key means is :mod:`forgetcheck.results.keys`' job, and what to
score is :mod:`forgetcheck.results.runner`'s.

Two tables in one SQLite file (WAL mode, safe with several writers):
``results`` holds one record per (model key, item key): a score, the answer and
the per-item values a probe's summary is rebuilt from; ``blobs`` holds whole results
that are not item scores, such as the base's self-generated samples and a pair's
label-free drift, each under its own kind.

Every record and blob carries an HMAC-SHA256 over its model key, its own key and its
content. A record whose MAC does not match (a flipped bit, an edit, a record written
with another secret) is not used: it is scored again, and the run says so once. The
secret is ``FORGETCHECK_CACHE_SECRET`` when set (in CI, a repository secret: a pull
request that poisons a restored cache cannot forge records without it), else a random
key in ``ROOT/results/integrity.key`` readable by its owner only, which catches
corruption and edits by anyone who cannot read that file, but not code running as you.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import os
import secrets
import sqlite3
import time
from pathlib import Path
from typing import Callable

# The per-item values each probe kind needs to rebuild its probe's summary numbers.
REQUIRED_VALUES = {"choice": ("acc", "acc_norm"), "perplexity": ("logprob", "n_tokens"), "generate": ()}


def default_root() -> Path:
    """``FORGETCHECK_CACHE``, else ``$XDG_CACHE_HOME/forgetcheck``, else ``~/.cache/forgetcheck``.

    Results live in its ``results/`` folder; the demo keeps its converted model in ``models/``.
    """
    root = os.environ.get("FORGETCHECK_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "forgetcheck")
    return Path(root)


class ResultCache:
    """Per-item results in ``ROOT/results/results.sqlite``.

    Reading problems never stop a comparison: an unreadable database or a
    malformed entry is reported once, in one line, through ``warn`` and treated
    as a miss.
    """

    def __init__(self, root: str | Path | None = None, warn: Callable[[str], None] | None = None):
        self.root = Path(root).expanduser() if root else default_root()
        self.path = self.root / "results" / "results.sqlite"
        self.warn = warn or (lambda message: None)
        self.broken = False
        self._warned: set[str] = set()
        self._secret: bytes | None = None

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=60)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("CREATE TABLE IF NOT EXISTS results (model TEXT, item TEXT, record TEXT, "
                   "PRIMARY KEY (model, item)) WITHOUT ROWID")
        db.execute("CREATE TABLE IF NOT EXISTS blobs (model TEXT, key TEXT, kind TEXT, value TEXT, "
                   "PRIMARY KEY (model, key, kind)) WITHOUT ROWID")
        db.execute("CREATE TABLE IF NOT EXISTS models (model TEXT PRIMARY KEY, label TEXT, resolved TEXT, "
                   "adapter TEXT, fields TEXT, created REAL)")
        return db

    def _secret_key(self) -> bytes:
        """The HMAC key, read (or made) once per store."""
        if self._secret is None:
            self._secret = _integrity_secret(self.path.parent)
        return self._secret

    def _mac(self, model_key: str, key: str, content: str) -> str:
        message = json.dumps([model_key, key, content]).encode()
        return hmac.new(self._secret_key(), message, hashlib.sha256).hexdigest()

    def _seal(self, model_key: str, key: str, value: dict) -> str:
        """The stored text: the value and its MAC."""
        content = json.dumps(value, sort_keys=True)
        return json.dumps({"mac": self._mac(model_key, key, content), "value": content})

    def _open(self, model_key: str, key: str, text: str) -> dict | None:
        """The stored value if its MAC matches, else None (counted, and reported once)."""
        try:
            sealed = json.loads(text)
            content, mac = sealed["value"], sealed["mac"]
            if not isinstance(content, str) or not isinstance(mac, str):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            return None
        if not hmac.compare_digest(mac, self._mac(model_key, key, content)):
            self._note(f"result cache {self.path}: some records failed their integrity check (edited, corrupt, "
                       "or written with another FORGETCHECK_CACHE_SECRET); they are scored again")
            return None
        try:
            value = json.loads(content)
        except ValueError:
            return None
        return value if isinstance(value, dict) else None

    def _unreadable(self, exc: Exception) -> None:
        self.broken = True
        self._note(f"result cache {self.path} cannot be used ({exc}); scoring without it. If the folder is "
                   "writable, `forgetcheck cache clear` starts a fresh one; FORGETCHECK_CACHE picks another folder")

    def _note(self, message: str) -> None:
        if message not in self._warned:
            self._warned.add(message)
            self.warn(message)

    def get_many(self, model_key: str, keys: list[str], kind: str) -> dict[str, dict]:
        """The stored, well-formed records among ``keys``; malformed ones count as misses."""
        if self.broken or not keys:
            return {}
        found: dict[str, dict] = {}
        try:
            with self._connect() as db:
                for start in range(0, len(keys), 500):
                    part = keys[start:start + 500]
                    rows = db.execute(f"SELECT item, record FROM results WHERE model = ? AND item IN "
                                      f"({','.join('?' * len(part))})", [model_key, *part]).fetchall()
                    found.update(rows)
        except (sqlite3.Error, OSError) as exc:
            self._unreadable(exc)
            return {}
        records = {}
        try:
            self._secret_key()  # read or made here, where a failure degrades to no cache
        except (OSError, ValueError) as exc:
            self._unreadable(exc)
            return {}
        for key, text in found.items():
            opened = self._open(model_key, key, text)
            record = None if opened is None else check_record(opened, kind)
            if record is None:
                self._note(f"result cache {self.path}: ignored a malformed entry (item {key[:12]}); "
                           "it is scored again")
            else:
                records[key] = record
        return records

    def put_many(self, model_key: dict, records: dict[str, dict]) -> None:
        """Store one chunk's records in a single transaction: all of them or none."""
        if self.broken or not records:
            return
        try:
            with self._connect() as db:
                self._remember(db, model_key)
                db.executemany("INSERT OR REPLACE INTO results VALUES (?, ?, ?)",
                               [(model_key["key"], key, self._seal(model_key["key"], key, r))
                                for key, r in records.items()])
        except (sqlite3.Error, OSError) as exc:
            self._unreadable(exc)

    def get_blob(self, model_key: str, key: str, kind: str) -> dict | None:
        """A whole stored result (``kind`` says which: ``self-samples``, ``label-free-drift``), or None."""
        if self.broken:
            return None
        try:
            with self._connect() as db:
                row = db.execute("SELECT value FROM blobs WHERE model = ? AND key = ? AND kind = ?",
                                 (model_key, key, kind)).fetchone()
        except (sqlite3.Error, OSError) as exc:
            self._unreadable(exc)
            return None
        if row is None:
            return None
        value = self._open(model_key, f"{kind}:{key}", row[0])
        if value is None:
            self._note(f"result cache {self.path}: ignored a malformed {kind} entry; it is computed again")
            return None
        return value

    def put_blob(self, model_key: dict, key: str, kind: str, value: dict) -> None:
        if self.broken:
            return
        try:
            with self._connect() as db:
                self._remember(db, model_key)
                db.execute("INSERT OR REPLACE INTO blobs VALUES (?, ?, ?, ?)",
                           (model_key["key"], key, kind, self._seal(model_key["key"], f"{kind}:{key}", value)))
        except (sqlite3.Error, OSError) as exc:
            self._unreadable(exc)

    @staticmethod
    def _remember(db: sqlite3.Connection, model_key: dict) -> None:
        # The models table names each key for `cache info` and `cache clear`.
        db.execute("INSERT OR IGNORE INTO models VALUES (?, ?, ?, ?, ?, ?)",
                   (model_key["key"], model_key["label"], model_key["model"], model_key["adapter"],
                    json.dumps(model_key), time.time()))

    def info(self) -> dict:
        """Location, size, number of entries and entries per model (by the name it was given)."""
        files = [p for p in self.path.parent.glob(self.path.name + "*") if p.is_file()]
        info = {"location": str(self.path), "size_bytes": sum(p.stat().st_size for p in files), "entries": 0,
                "models": []}
        if not self.path.exists():
            return info
        try:
            with self._connect() as db:
                info["entries"] = db.execute("SELECT COUNT(*) FROM results").fetchone()[0]
                rows = db.execute("SELECT m.label, m.fields, COUNT(r.item) FROM models m JOIN results r "
                                  "ON r.model = m.model GROUP BY m.model ORDER BY m.label").fetchall()
        except (sqlite3.Error, OSError) as exc:
            info["error"] = str(exc)
            return info
        for label, fields, count in rows:
            fields = json.loads(fields)
            info["models"].append({"label": label, "resolved": fields["model"], "adapter": fields["adapter"],
                                   "adapter_disabled": fields["adapter_disabled"], "dtype": fields["dtype"],
                                   "device": fields["device"], "engine": fields["engine"], "entries": count})
        return info

    def clear(self, fingerprints: list[str] | None = None, label: str | None = None) -> int:
        """Delete every entry, or those of models with one of ``fingerprints`` (weights or adapter) or ``label``.

        Returns the number of entries deleted. Clearing everything removes the
        database files, so it also recovers from a corrupt database.
        """
        if fingerprints is None and label is None:
            count = 0
            try:
                with self._connect() as db:
                    count = db.execute("SELECT COUNT(*) FROM results").fetchone()[0]
            except (sqlite3.Error, OSError):
                pass
            for file in self.path.parent.glob(self.path.name + "*"):
                file.unlink(missing_ok=True)
            return count
        wanted = list(fingerprints or [])
        marks = ",".join("?" * len(wanted)) or "NULL"
        with self._connect() as db:
            models = [row[0] for row in db.execute(
                f"SELECT model FROM models WHERE resolved IN ({marks}) OR adapter IN ({marks}) OR label = ?",
                [*wanted, *wanted, label])]
            count = 0
            for model in models:
                count += db.execute("DELETE FROM results WHERE model = ?", (model,)).rowcount
                db.execute("DELETE FROM blobs WHERE model = ?", (model,))
                db.execute("DELETE FROM models WHERE model = ?", (model,))
        return count


def _integrity_secret(folder: Path) -> bytes:
    """FORGETCHECK_CACHE_SECRET, else this cache's own random key (created once, owner-only)."""
    given = os.environ.get("FORGETCHECK_CACHE_SECRET")
    if given:
        return given.encode()
    path = folder / "integrity.key"
    try:
        return bytes.fromhex(path.read_text().strip())
    except (OSError, ValueError):
        pass
    key = secrets.token_hex(32)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return bytes.fromhex(path.read_text().strip())
    with os.fdopen(descriptor, "w") as file:
        file.write(key)
    return bytes.fromhex(key)


def check_record(record: dict, kind: str) -> dict | None:
    """A stored record if it is well-formed for ``kind``, else None."""
    try:
        score, answer, values = record["score"], record["answer"], record["values"]
        ok = (isinstance(score, (int, float)) and math.isfinite(score) and (answer is None or isinstance(answer, str))
              and isinstance(values, dict) and all(isinstance(values.get(name), (int, float))
                                                   for name in REQUIRED_VALUES[kind]))
    except (ValueError, KeyError, TypeError):
        return None
    return record if ok else None


