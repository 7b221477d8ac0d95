"""The benchmark still runs (at a small scale), and with it the stand-alone sandbox process."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_poll_scale_bench_runs_and_checks_its_targets() -> None:
    result = subprocess.run(
        [sys.executable, "bench/poll_scale.py", "--orders", "250", "--latency", "0.05", "--concurrency", "2",
         "--spread-orders", "250"],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=120,
        check=False,
    )
    assert "requests made: 3" in result.stdout, result.stdout + result.stderr
    assert "max concurrent requests seen by the panel: 2" in result.stdout
    assert "ids answered with a status: 250/250" in result.stdout
    assert "orders placed over 5 minutes: 250" in result.stdout
    assert "PASS  requests per cycle <= ceil(250 / 100) = 3" in result.stdout, result.stdout + result.stderr
    assert result.returncode == 0, result.stdout


@pytest.mark.timeout(150)
def test_conversation_load_bench_completes_every_order() -> None:
    """Three customers order through the real bot, each bot in its own process; the latency
    target is the bench's business. (About 15 s alone; CI runs the suites side by side.)"""
    result = subprocess.run(
        [sys.executable, "bench/conversation_load.py", "--customers", "3"],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=140,
        check=False,
    )
    assert "orders placed: 9 of 9 (panel add requests: 9, '✅ Order placed' messages: 9): PASS" in result.stdout, (
        result.stdout + result.stderr)
    assert "samples: bare bot 54, storefront 54" in result.stdout  # 3 customers x 3 orders x 6 steps
    assert "p95 ratio storefront / bare:" in result.stdout
    assert "bots stopped with SIGINT: bare bot exit code 0, storefront bot exit code 0: PASS" in result.stdout, (
        result.stdout + result.stderr)
    assert "Traceback" not in result.stderr, result.stderr  # exit code 1 only means the latency target was missed


def test_hostile_panel_soak_runs_and_checks_its_targets() -> None:
    result = subprocess.run(
        [sys.executable, "bench/hostile_panel.py", "--cycles", "300", "--garbage", "0.05"],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=120,
        check=False,
    )
    assert "cycles completed: " in result.stdout, result.stdout + result.stderr
    for target in ("cycles completed >= 300, none failed", "orders stuck == 0",
                   "held for an admin == the Partial packages, and only they",
                   "refunds == undelivered share, to the cent, for every order"):
        assert f"PASS  {target}" in result.stdout, result.stdout + result.stderr
    assert result.returncode == 0


def test_shared_limit_bench_holds_30_a_second_across_instances() -> None:
    redis_url = os.environ.get("REDIS_TEST_URL", "redis://127.0.0.1:6379/0")
    result = subprocess.run(  # noqa: S603 - our own bench, and the test's Redis
        [sys.executable, "bench/shared_limit.py", "--messages", "90", "--samples", "100", "--redis", redis_url],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=60,
        check=False,
    )
    if result.returncode == 2 and result.stdout.startswith("no Redis"):
        pytest.skip(result.stdout.strip())
    assert "instances: 3, messages: 90 to 90 chats, sent: 90" in result.stdout, result.stdout + result.stderr
    assert "most messages in any 1-second window: " in result.stdout
    assert "added by the Redis round trip: p50 " in result.stdout
    assert "PASS  at most 30 messages in any 1-second window, all sent" in result.stdout, result.stdout
    assert result.returncode == 0


@pytest.mark.timeout(180)
def test_cluster_bench_measures_every_configuration_and_the_poll_cycle() -> None:
    """Twenty customers, two seconds a configuration, 500 open orders: the table is printed and
    the bench's checks pass (every press answered; the poll cycle takes ceil(N / 100) requests,
    each order asked once). Its scaling figures are the bench's business. It runs with the
    PostgreSQL suite (once in CI, where the suites run side by side: the warm-up leaves room)."""
    if not os.environ.get("TEST_POSTGRES_URL"):
        pytest.skip("runs with the PostgreSQL suite: set TEST_POSTGRES_URL")
    result = subprocess.run(
        [sys.executable, "bench/cluster.py", "--users", "20", "--seconds", "2", "--warmup", "4", "--orders", "500"],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=170,
        check=False,
    )
    if result.returncode == 2 and result.stdout.startswith("no "):
        pytest.skip(result.stdout.strip())
    out = result.stdout
    assert "configuration      updates/s   p50 ms   p95 ms" in out, out + result.stderr
    for label in ("SQLite x1", "PostgreSQL x1", "PostgreSQL x2", "PostgreSQL x3"):
        assert re.search(rf"^{label} +\d+\.\d +\d+\.\d +\d+\.\d +(\d+)/\1\b", out, re.MULTILINE), out
    assert "messaging workload, PostgreSQL x1 (/balance, answered with a message): " in out
    assert "poll cycle, 500 open orders, 3 instances: 5 requests (ceil(N/100) = 5), " in out, out
    assert "each order once" in out
    assert "PASS  every press answered" in out, out
    assert result.returncode == 0, out + result.stderr


def test_panels_poll_bench_asks_each_panel_in_full_batches_and_a_hung_one_holds_up_nobody() -> None:
    result = subprocess.run(
        [sys.executable, "bench/panels_poll.py", "--orders", "150,101,7", "--hang-panel", "beta", "--timeout", "2",
         "--hang-seconds", "10", "--latency", "0.02"],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=90,
        check=False,
    )
    out = result.stdout
    for target in ("requests at alpha = ceil(150 / 100) = 2", "requests at beta = ceil(101 / 100) = 2",
                   "requests at gamma = ceil(7 / 100) = 1", "every order got a status (258/258)",
                   "healthy panels stored in < 20% of the timeout (400 ms)",
                   "the hung panel held the cycle until its timeout (>= 1.9 s)",
                   "beta's 101 orders not stored but rescheduled",
                   "next cycle asks beta's 101 orders again in ceil(101 / 100) = 2 requests, all stored"):
        assert f"PASS  {target}" in out, out + result.stderr
    assert "FAIL" not in out, out
    assert "summary: orders 150/101/7 at alpha/beta/gamma: status requests 2/2/1 (ceil(N/100))" in out, out
    assert result.returncode == 0, out + result.stderr
