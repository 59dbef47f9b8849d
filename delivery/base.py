"""What every delivery channel shares: typed errors, the retry-with-backoff loop, the result type."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from engine.schedules import Artifact, Bundle, Channel, DeliveryResult, Recipient

__all__ = [
    "Artifact",
    "Bundle",
    "Channel",
    "DeliveryError",
    "DeliveryResult",
    "Recipient",
    "RetryPolicy",
    "TransientError",
    "with_retries",
]

log = logging.getLogger(__name__)
T = TypeVar("T")


class DeliveryError(Exception):
    """A delivery that did not go through. `user_message` is safe to show in the run history
    (no passwords, no secrets); `attempts` is how many tries were made."""

    channel = "delivery"

    def __init__(self, user_message: str, *, attempts: int = 1, retryable: bool = False) -> None:
        super().__init__(user_message)
        self.user_message = user_message
        self.attempts = attempts
        self.retryable = retryable


class TransientError(Exception):
    """Raised inside a retried operation for a failure worth another try (5xx, timeout, refused)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff: `base_delay`, then x`factor` per try up to `max_delay`, +-`jitter`."""

    attempts: int = 4
    base_delay: float = 1.0
    factor: float = 2.0
    max_delay: float = 30.0
    jitter: float = 0.1

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed try number `attempt` (1-based)."""
        delay = min(self.max_delay, self.base_delay * self.factor ** (attempt - 1))
        return max(0.0, delay * (1 + random.uniform(-self.jitter, self.jitter)))


def with_retries(
    operation: Callable[[int], T],
    policy: RetryPolicy,
    fail: Callable[[str, int], DeliveryError],
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[T, int]:
    """Run `operation(attempt)` until it returns, retrying on TransientError with backoff.

    Returns (result, attempts). After the last try, or on a DeliveryError raised by the operation
    (a permanent failure), raises the DeliveryError built by `fail(reason, attempts)`.
    """
    for attempt in range(1, policy.attempts + 1):
        try:
            return operation(attempt), attempt
        except TransientError as exc:
            if attempt == policy.attempts:
                raise fail(f"{exc.message} (gave up after {attempt} attempts)", attempt) from exc
            wait = policy.delay(attempt)
            log.warning(
                "delivery attempt %d failed: %s; retrying in %.1fs", attempt, exc.message, wait
            )
            sleep(wait)
        except DeliveryError as exc:
            exc.attempts = attempt
            raise
    raise AssertionError("unreachable")  # pragma: no cover
