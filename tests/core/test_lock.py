"""The lock name agrees with the runbooks' shell pipeline; label values are always valid."""

from __future__ import annotations

import re
import subprocess

from hypothesis import assume, given
from hypothesis import strategies as st

from wfe.core.lock import LOCK_NAME_PATTERN, label_value, lock_name, target_label_value

from strategies import valid_targets

_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
RUNBOOK = 'echo -n "$TARGET" | sha256sum | cut -c1-16 | xargs printf "wfe-%s"'


def test_known_vector() -> None:
    assert lock_name("payment/deployment/payment-api") == "wfe-cf0cc089293b1165"


def test_exact_bytes_matter() -> None:
    assert lock_name("payment/Deployment/payment-api") != lock_name(
        "payment/deployment/payment-api"
    )
    assert lock_name("payment/deployment/payment-api ") != lock_name(
        "payment/deployment/payment-api"
    )


@given(st.text(min_size=0, max_size=200))
def test_agrees_with_sha256sum_for_any_string(text: str) -> None:
    digest = subprocess.run(
        ["sha256sum"], input=text.encode("utf-8"), capture_output=True, check=True
    ).stdout.decode()
    name = lock_name(text)
    assert name == "wfe-" + digest[:16]
    assert len(name) == 20
    assert LOCK_NAME_PATTERN.match(name)


@given(valid_targets)
def test_runbook_pipeline_gives_the_same_name(target: str) -> None:
    out = subprocess.run(
        ["bash", "-c", RUNBOOK], env={"TARGET": target}, capture_output=True, check=True
    ).stdout.decode()
    assert out == lock_name(target)


@given(st.text(max_size=300))
def test_label_value_always_valid(text: str) -> None:
    value = target_label_value(text)
    assert len(value) <= 63
    assert _LABEL_VALUE.match(value), value


@given(st.text(max_size=100), st.text(max_size=100))
def test_distinct_inputs_give_distinct_label_values(a: str, b: str) -> None:
    assume(a != b)
    assert label_value(a) != label_value(b)


def test_readable_label_for_common_targets() -> None:
    assert target_label_value("payment/deployment/payment-api") == "payment.deployment.payment-api"
    assert label_value("restart-pod") == "restart-pod"
    long = label_value("x" * 100)
    assert len(long) == 63
    assert long.startswith("x")
