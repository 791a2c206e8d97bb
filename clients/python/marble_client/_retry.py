"""The retry policy: which failures are retried, and how long to wait before each retry.

Pure functions only; the sync and async clients differ in how they sleep and send.

A call is retried only when repeating it is safe: GET and DELETE always; a POST
that only reads (``/infer``, a GraphQL query) always; any other POST only with an
``Idempotency-Key``, which the server honours by replaying its first answer. Retried
failures are connection errors (refused, reset, timed out) and 502, 503, 504.
Retry ``n`` (0-based) waits ``backoff_factor * 2**n`` seconds: 0.5, 1, 2 by default.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

RETRY_STATUSES = frozenset({502, 503, 504})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 3
    backoff_factor: float = 0.5
    statuses: frozenset[int] = RETRY_STATUSES

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError(f"max_retries: expected 0 or more, got {self.max_retries}")
        if self.backoff_factor < 0:
            raise ValueError(f"backoff_factor: expected 0 or more, got {self.backoff_factor}")

    def wait(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (0-based)."""
        return self.backoff_factor * 2.0**retry

    def delay(
        self,
        attempt: int,
        *,
        retryable: bool,
        status: int | None = None,
        error: Exception | None = None,
    ) -> float | None:
        """Seconds to wait after attempt ``attempt`` (0-based) failed; None to give up."""
        if not retryable or attempt >= self.max_retries:
            return None
        if error is not None and not is_connection_error(error):
            return None
        if status is not None and status not in self.statuses:
            return None
        return self.wait(attempt)


def is_connection_error(error: Exception) -> bool:
    """Whether the request may not have reached the server, or its answer was lost."""
    return isinstance(
        error, httpx.NetworkError | httpx.TimeoutException | httpx.RemoteProtocolError
    )
