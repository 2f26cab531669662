"""Passwords in URLs are masked in what sgen writes, wherever libpq would read them from."""
from __future__ import annotations

import pytest

from sgen.redact import redact_config, redact_url, url_password


@pytest.mark.parametrize("url, masked, password", [
    ("postgresql://sgen:s3cret@db:5432/sgen", "postgresql://sgen:***@db:5432/sgen", "s3cret"),
    ("postgresql://sgen:p@ss:w0rd@db/sgen", "postgresql://sgen:***@db/sgen", "p@ss:w0rd"),
    ("postgresql+psycopg://u:x@h/db?sslmode=require", "postgresql+psycopg://u:***@h/db?sslmode=require", "x"),
    ("postgresql://sgen@db/sgen?password=s3cret&sslmode=require",
     "postgresql://sgen@db/sgen?password=***&sslmode=require", "s3cret"),
    ("postgresql://sgen@db/sgen", "postgresql://sgen@db/sgen", None),
    ("http://127.0.0.1:8000/v1", "http://127.0.0.1:8000/v1", None),
])
def test_urls_are_masked_and_their_password_found(url, masked, password):
    assert redact_url(url) == masked
    assert url_password(url) == password
    if password:
        assert password not in redact_url(url)


def test_configs_are_masked_at_any_depth_and_other_values_kept():
    config = {"cache": {"url": "postgresql://a:b@h/d", "lease_seconds": 600}, "list": ["x", "sqlite:///x.db"],
              "text": "not a url: a:b@c", "none": None}
    assert redact_config(config) == {"cache": {"url": "postgresql://a:***@h/d", "lease_seconds": 600},
                                     "list": ["x", "sqlite:///x.db"], "text": "not a url: a:b@c", "none": None}
