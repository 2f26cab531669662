"""The query-cache tests run against both stores: the SQLite file and a real PostgreSQL server."""
from __future__ import annotations

import pytest


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request, tmp_path):
    """Store specs by name: each name is its own empty cache ({"path": ...} or {"url": ...}), the same on every call."""
    if request.param == "sqlite":
        return lambda name="queries": {"path": str(tmp_path / f"{name}.sqlite")}
    server = request.getfixturevalue("postgres_server")
    databases: dict[str, str] = {}

    def spec(name: str = "queries") -> dict:
        if name not in databases:
            databases[name] = server.create_database()
        return {"url": databases[name]}

    return spec
