"""Client configuration: arguments first, then ``MARBLE_URL`` / ``MARBLE_TOKEN``, then defaults."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from marble_client._retry import RetryPolicy
from marble_client._version import __version__

DEFAULT_URL = "http://127.0.0.1:8000"
# Reads wait up to 30 s: the server sends a keepalive on a quiet event stream every 15 s.
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
URL_VARIABLE = "MARBLE_URL"
TOKEN_VARIABLE = "MARBLE_TOKEN"


@dataclass(frozen=True)
class ClientConfig:
    base_url: str
    token: str | None
    timeout: httpx.Timeout
    retry: RetryPolicy
    auto_idempotency_keys: bool

    @classmethod
    def resolve(
        cls,
        base_url: str | None,
        token: str | None,
        timeout: float | httpx.Timeout | None,
        max_retries: int,
        backoff_factor: float,
        auto_idempotency_keys: bool,
        environ: Mapping[str, str] = os.environ,
    ) -> ClientConfig:
        """The configuration of a client from its arguments and the environment."""
        url = base_url or environ.get(URL_VARIABLE) or DEFAULT_URL
        if not url.startswith(("http://", "https://")):
            source = "base_url" if base_url else URL_VARIABLE
            raise ValueError(f"{source}: expected an http:// or https:// URL, got {url!r}")
        return cls(
            base_url=url.rstrip("/"),
            token=token if token is not None else environ.get(TOKEN_VARIABLE) or None,
            timeout=timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout),
            retry=RetryPolicy(max_retries=max_retries, backoff_factor=backoff_factor),
            auto_idempotency_keys=auto_idempotency_keys,
        )

    def headers(self) -> dict[str, str]:
        """Headers sent with every request."""
        headers = {"Accept": "application/json", "User-Agent": f"marble-client/{__version__}"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    def __repr__(self) -> str:  # never print the token
        token = "set" if self.token else "none"
        return f"ClientConfig(base_url={self.base_url!r}, token={token}, retry={self.retry})"
