"""The failed-authentication lockout: a sliding window per client network (/24, /64)."""

import pytest

from tvdesk.core.lockout import FailedAuthLimiter

T0 = 1_700_000_000.0


def failing(limiter: FailedAuthLimiter, client: str, *times: float) -> None:
    for t in times:
        limiter.record_failure(client, t)


def test_locked_after_limit_failures_in_the_window():
    limiter = FailedAuthLimiter(limit=3)
    failing(limiter, "1.2.3.4", T0, T0 + 10)
    assert limiter.retry_after("1.2.3.4", T0 + 10) is None
    failing(limiter, "1.2.3.4", T0 + 20)
    assert limiter.retry_after("1.2.3.4", T0 + 20) == 40  # the failure at T0 leaves at T0 + 60


def test_the_window_slides():
    limiter = FailedAuthLimiter(limit=3, window_s=60)
    failing(limiter, "c", T0, T0 + 10, T0 + 20)
    assert limiter.retry_after("c", T0 + 59.5) == 1
    assert limiter.retry_after("c", T0 + 60) is None  # the first failure has left
    failing(limiter, "c", T0 + 61)
    assert limiter.retry_after("c", T0 + 61) == 9  # now T0 + 10 is the oldest counted


def test_retry_after_is_whole_seconds_rounded_up():
    limiter = FailedAuthLimiter(limit=1, window_s=60)
    failing(limiter, "c", T0)
    assert limiter.retry_after("c", T0 + 0.2) == 60
    assert limiter.retry_after("c", T0 + 58.9) == 2


def test_a_flood_stays_locked_until_enough_failures_age_out():
    limiter = FailedAuthLimiter(limit=20, window_s=60)
    failing(limiter, "c", *(T0 + i for i in range(100)))
    # The newest 20 failures (T0+80 .. T0+99) count: free once T0+80 leaves the window.
    assert limiter.retry_after("c", T0 + 99) == 41
    assert limiter.retry_after("c", T0 + 140) is None


def test_clients_are_counted_separately():
    limiter = FailedAuthLimiter(limit=2)
    failing(limiter, "a", T0, T0 + 1)
    failing(limiter, "b", T0)
    assert limiter.retry_after("a", T0 + 1) is not None
    assert limiter.retry_after("b", T0 + 1) is None
    assert limiter.retry_after("never-seen", T0 + 1) is None


@pytest.mark.parametrize("limit", [0, -1])
def test_limit_zero_never_locks(limit):
    limiter = FailedAuthLimiter(limit=limit)
    failing(limiter, "c", *(T0 + i / 10 for i in range(100)))
    assert limiter.retry_after("c", T0 + 10) is None


def test_oldest_clients_are_evicted_beyond_max_clients():
    limiter = FailedAuthLimiter(limit=1, max_clients=2)
    failing(limiter, "a", T0)
    failing(limiter, "b", T0 + 1)
    failing(limiter, "c", T0 + 2)
    assert limiter.retry_after("a", T0 + 2) is None  # evicted
    assert limiter.retry_after("b", T0 + 2) == 59
    assert limiter.retry_after("c", T0 + 2) == 60


def test_a_repeat_offender_is_not_evicted_first():
    limiter = FailedAuthLimiter(limit=1, max_clients=2)
    failing(limiter, "a", T0)
    failing(limiter, "b", T0 + 1)
    failing(limiter, "a", T0 + 2)
    failing(limiter, "c", T0 + 3)
    assert limiter.retry_after("a", T0 + 3) is not None
    assert limiter.retry_after("b", T0 + 3) is None


def test_memory_stays_bounded():
    limiter = FailedAuthLimiter(limit=5, window_s=60, max_clients=100)
    for i in range(10_000):
        limiter.record_failure(f"10.0.{i % 300}.1", T0 + i / 100)
    assert len(limiter._failures) <= 100
    assert all(len(times) <= 5 for times in limiter._failures.values())
    # Clients whose failures all left the window are forgotten on the next failure.
    limiter.record_failure("late", T0 + 10_000)
    assert list(limiter._failures) == ["late"]


# ---------------------------------------------------------------- by network


def test_a_network_that_hops_addresses_is_locked_out_as_one_client():
    limiter = FailedAuthLimiter(limit=20)
    failing_from = [f"10.0.0.{n}" for n in range(1, 22)]  # 21 addresses, one /24
    for n, client in enumerate(failing_from):
        limiter.record_failure(client, T0 + n)
    assert limiter.retry_after("10.0.0.99", T0 + 21) is not None  # never failed itself
    assert limiter.retry_after("10.0.1.1", T0 + 21) is None  # the next /24 is someone else


def test_ipv6_counts_per_64_and_ipv4_mapped_counts_as_ipv4():
    limiter = FailedAuthLimiter(limit=2)
    failing(limiter, "2001:db8:1:2::1", T0)
    failing(limiter, "2001:db8:1:2:ffff:ffff:ffff:fffe", T0 + 1)
    assert limiter.retry_after("2001:db8:1:2::99", T0 + 1) is not None
    assert limiter.retry_after("2001:db8:1:3::1", T0 + 1) is None

    failing(limiter, "::ffff:192.0.2.1", T0 + 2)  # what a dual-stack socket reports
    failing(limiter, "192.0.2.2", T0 + 3)
    assert limiter.retry_after("192.0.2.250", T0 + 3) is not None
    assert limiter.retry_after("::ffff:192.0.3.1", T0 + 3) is None
