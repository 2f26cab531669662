"""Passwords stay out of what sgen writes: resolved configs, logs, W&B, plans and study results.

A store's URL may carry a password (`postgresql://user:secret@host/db`, from SGEN_CACHE_URL); everything sgen
writes shows it as `***`. The password itself belongs in the environment (SGEN_CACHE_URL, PGPASSWORD) or in
~/.pgpass, never in a config file or a command line that Hydra saves.
"""
from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

MASK = "***"
# scheme://user:password@host... ; the password is everything between the first ':' after '//' and the last '@'.
_URL_WITH_PASSWORD = re.compile(r"^(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/@?#]*:)(?P<password>.*)(?P<tail>@[^@]*)$")


# libpq also takes the password as a query parameter: postgresql://user@host/db?password=secret
_QUERY_PASSWORD = re.compile(r"(?P<head>[?&]password=)(?P<password>[^&#]*)")


def url_password(url: str) -> str | None:
    """The password a URL carries (in its user info or as ?password=), if any."""
    try:
        parts = urlsplit(url)
        in_query = _QUERY_PASSWORD.search(f"?{parts.query}") if parts.query else None
        return parts.password or (in_query.group("password") if in_query else None) or None
    except ValueError:
        return None


def redact_url(url: str) -> str:
    """The URL with its password replaced by ***; any other string unchanged."""
    if not isinstance(url, str) or "://" not in url:
        return url
    url = _QUERY_PASSWORD.sub(lambda m: m.group("head") + (MASK if m.group("password") else ""), url)
    match = _URL_WITH_PASSWORD.match(url)
    if match is None or not match.group("password"):
        return url
    return f"{match.group('head')}{MASK}{match.group('tail')}"


def redact_config(node: Any) -> Any:
    """A plain config (dicts, lists, scalars) with every URL's password masked."""
    if isinstance(node, dict):
        return {k: redact_config(v) for k, v in node.items()}
    if isinstance(node, list):
        return [redact_config(v) for v in node]
    return redact_url(node) if isinstance(node, str) else node
