"""Security primitives: constant-time tokens, origins, rate and connection limits."""

from dxbus.clock import ManualClock
from dxbus.security import ConnectionLimiter, RateLimiter, origin_allowed, presented_token, token_matches


def test_tokens():
    assert token_matches("", None)
    assert token_matches("s3cret", "s3cret")
    assert not token_matches("s3cret", "s3cre")
    assert not token_matches("s3cret", None)
    assert presented_token({"Authorization": "Bearer abc"}, {}) == "abc"
    assert presented_token({}, {"token": "xyz"}) == "xyz"


def test_origins():
    star = frozenset({"*"})
    assert origin_allowed(star, "null")
    assert origin_allowed(frozenset({"http://localhost:8080"}), None)
    assert origin_allowed(frozenset({"http://localhost:8080"}), "http://LOCALHOST:8080/")
    assert not origin_allowed(frozenset({"http://localhost:8080"}), "https://evil.example")


async def test_rate_limiter_refills_with_the_clock():
    clock = ManualClock()
    limiter = RateLimiter(60, clock)
    for _ in range(60):
        assert limiter.check("1.2.3.4").allowed
    denied = limiter.check("1.2.3.4")
    assert not denied.allowed and denied.retry_after == 1
    assert denied.headers()["Retry-After"] == "1"
    assert limiter.check("5.6.7.8").allowed
    await clock.advance(1.0)
    assert limiter.check("1.2.3.4").allowed


def test_connection_limiter():
    limiter = ConnectionLimiter(2)
    assert limiter.acquire("a") and limiter.acquire("a")
    assert not limiter.acquire("a")
    limiter.release("a")
    assert limiter.acquire("a")
