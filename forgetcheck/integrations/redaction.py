"""Redaction of anything that looks like a token, in text a server sent us before we print it.

Error messages from GitHub and the Hub are quoted in forgetcheck's one-line errors,
and those lines end up in CI logs that anyone can read on a public repository. A
server (or a proxy, or a fake one in a pull request's test setup) may echo a request
back, header and all; so every quoted message goes through :func:`redact_tokens`
first. The patterns are the documented prefixes of GitHub tokens (``ghp_``, ``gho_``,
``ghu_``, ``ghs_``, ``ghr_``, ``github_pat_``) and Hugging Face tokens (``hf_``),
plus whatever follows ``Bearer``/``token``: a false positive costs a word in an
error message, a miss leaks a credential.
"""

from __future__ import annotations

import re

_TOKEN = re.compile(r"(?<![A-Za-z0-9])(?:gh[opusr]_|github_pat_|hf_)[A-Za-z0-9_\-]{16,}"
                    r"|(?i:\b(?:bearer|token)\s+)[A-Za-z0-9_\-.=+/]{16,}")
REDACTED = "[redacted]"


def redact_tokens(text: str) -> str:
    """``text`` with every token-like word replaced by ``[redacted]``.

    >>> fake = "0123456789abcdef" * 3  # built here, so no token-shaped literal sits in the source
    >>> redact_tokens("Bad credentials for ghp_" + fake)
    'Bad credentials for [redacted]'
    >>> redact_tokens("Authorization: Bearer hf_" + fake + ", try again")
    'Authorization: [redacted], try again'
    >>> redact_tokens("hf_hub_download failed: 404")
    'hf_hub_download failed: 404'
    """
    return _TOKEN.sub(REDACTED, text)


def main() -> None:
    """``python -m forgetcheck.integrations.redaction``: copy stdin to stdout, redacted line by line.

    The Action pipes forgetcheck's messages through it, so that whatever a server
    quoted in an error reaches the public log without a token in it.
    """
    import sys

    stdin = open(sys.stdin.fileno(), encoding="utf-8", errors="replace", closefd=False)
    for line in stdin:
        sys.stdout.write(redact_tokens(line))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
