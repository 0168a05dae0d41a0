"""Settings: sources, precedence, validation naming the field, and the generated reference."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from wfe.cli.main import app
from wfe.config import FLAG_SETTINGS, ConfigError, Settings, load_settings, reference_table

DOC = Path(__file__).parent.parent / "docs" / "configuration.md"


def test_defaults_are_the_spec_ones() -> None:
    s = load_settings(env={})
    assert s.metrics_address == ":9090"
    assert s.health_address == ":8081"
    assert s.execution_namespace == "kubernaut-workflows"
    assert s.cooldown == timedelta(minutes=5)
    assert (s.backoff_base, s.backoff_max, s.backoff_max_exponent) == (
        timedelta(seconds=60),
        timedelta(minutes=10),
        4,
    )
    assert s.max_consecutive_failures == 5
    assert s.lease_name == "workflowexecution.kubernaut.ai"
    assert s.policy().runner_service_account == "kubernaut-workflow-runner"


def test_precedence_yaml_then_env_then_flags(tmp_path: Path) -> None:
    file = tmp_path / "wfe.yaml"
    file.write_text("cooldown: 1m\nworkers: 2\nallowed_service_accounts: [a, b]\n")
    s = load_settings(config_file=file, env={"WFE_COOLDOWN": "2m", "WFE_WORKERS": "3"})
    assert (s.cooldown, s.workers) == (timedelta(minutes=2), 3)
    assert s.allowed_service_accounts == ("a", "b")
    s = load_settings(config_file=file, env={"WFE_COOLDOWN": "2m"}, flags={"cooldown": "90s"})
    assert s.cooldown == timedelta(seconds=90)
    assert s.workers == 2


@pytest.mark.parametrize(
    ("env", "field"),
    [
        ({"WFE_COOLDOWN": "soon"}, "cooldown"),
        ({"WFE_WORKERS": "0"}, "workers"),
        ({"WFE_METRICS_ADDRESS": "9090"}, "metrics_address"),
        ({"WFE_LOG_FORMAT": "xml"}, "log_format"),
        ({"WFE_BACKOFF_MAX": "1s"}, "backoff_max"),
        ({"WFE_DEFAULT_TIMEOUT": "3h"}, "default_timeout"),
        ({"WFE_COOLDOWN": "99999999999h"}, "cooldown"),
        ({"WFE_METRIC_RETENTION": "1e30"}, "metric_retention"),
        ({"WFE_REQUIRE_PINNED_BUNDLES": "maybe"}, "require_pinned_bundles"),
    ],
)
def test_errors_name_the_setting(env: dict[str, str], field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        load_settings(env=env)


def test_unknown_yaml_key_and_bad_file(tmp_path: Path) -> None:
    file = tmp_path / "wfe.yaml"
    file.write_text("coldown: 1m\n")
    with pytest.raises(ConfigError, match="coldown"):
        load_settings(config_file=file, env={})
    file.write_text("- a list\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_settings(config_file=file, env={})
    with pytest.raises(ConfigError, match=r"missing\.yaml"):
        load_settings(config_file=tmp_path / "missing.yaml", env={})


def test_reference_doc_is_current() -> None:
    text = DOC.read_text()
    embedded = text.split("<!-- settings:begin -->\n", 1)[1].split("<!-- settings:end -->", 1)[0]
    assert embedded == reference_table(), "regenerate docs/configuration.md's table"


def test_every_first_class_flag_exists() -> None:
    command = next(c for c in app.registered_commands if c.name == "run")
    import inspect

    params = set(inspect.signature(command.callback).parameters)  # type: ignore[arg-type]
    assert set(FLAG_SETTINGS) <= params
    assert set(FLAG_SETTINGS) <= set(Settings.model_fields)


def test_numbers_of_seconds_beyond_the_bound_name_the_setting(tmp_path: Path) -> None:
    file = tmp_path / "wfe.yaml"
    file.write_text("cooldown: 1e300\n")
    with pytest.raises(ConfigError, match="cooldown"):
        load_settings(config_file=file, env={})


def test_pinned_bundles_required_by_default() -> None:
    assert load_settings(env={}).policy().require_pinned_bundles is True
    lenient = load_settings(env={"WFE_REQUIRE_PINNED_BUNDLES": "false"})
    assert lenient.policy().require_pinned_bundles is False


def test_the_audit_retry_cap_is_a_setting_and_must_be_positive() -> None:
    assert load_settings(env={"WFE_AUDIT_RETRY_MAX": "2s"}).audit_retry_max.total_seconds() == 2
    with pytest.raises(ConfigError, match="audit_retry_max"):
        load_settings(env={"WFE_AUDIT_RETRY_MAX": "0s"})
