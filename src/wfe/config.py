"""The controller's settings: one validated model fed by a YAML file, environment and flags.

Precedence, lowest first: defaults, the YAML file (`--config`), environment variables
(`WFE_<FIELD>`, e.g. `WFE_COOLDOWN=10m`), command-line flags. Durations take Go syntax (`90s`,
`5m`, `1h30m`) or a number of seconds. Every error names the setting at fault, and the command
exits non-zero (SPEC §9).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from wfe.core.durations import MAX_DURATION, format_duration, parse_duration
from wfe.core.errors import InvalidInput
from wfe.core.policy import Policy

__all__ = [
    "ENV_PREFIX",
    "FLAG_SETTINGS",
    "ConfigError",
    "Settings",
    "load_settings",
    "reference_table",
]

ENV_PREFIX = "WFE_"
# Settings with a first-class `wfe run` flag; every setting also takes `--set name=value`.
FLAG_SETTINGS = (
    "metrics_address",
    "health_address",
    "execution_namespace",
    "watch_namespace",
    "cooldown",
    "workers",
    "leader_election",
    "log_level",
    "log_format",
)


class ConfigError(ValueError):
    """Invalid configuration; the message names every setting at fault."""


def _address(value: str) -> str:
    _host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ValueError(f"must be [host]:port (port 0 picks a free one), got {value!r}")
    return value


class Settings(BaseModel):
    """Every setting of `wfe run`, with its default (see docs/configuration.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    metrics_address: str = Field(":9090", description="Prometheus metrics listen address.")
    health_address: str = Field(":8081", description="/healthz and /readyz listen address.")
    execution_namespace: str = Field(
        "kubernaut-workflows", description="Namespace the PipelineRuns (locks) live in."
    )
    watch_namespace: str | None = Field(
        None, description="Only reconcile WorkflowExecutions in this namespace (default: all)."
    )
    runner_service_account: str = Field(
        "kubernaut-workflow-runner", description="Service account the pipelines run as."
    )
    allowed_service_accounts: tuple[str, ...] = Field(
        (), description="Other service accounts a WorkflowExecution may ask for."
    )
    cooldown: timedelta = Field(
        timedelta(minutes=5), description="Quiet time per target after a remediation."
    )
    backoff_base: timedelta = Field(
        timedelta(seconds=60), description="First backoff after a failure that never ran."
    )
    backoff_max: timedelta = Field(timedelta(minutes=10), description="Longest backoff.")
    backoff_max_exponent: int = Field(4, ge=0, le=30, description="Backoff doublings cap.")
    max_consecutive_failures: int = Field(
        5, ge=1, description="Failures in a row before a target needs a person (ExhaustedRetries)."
    )
    default_timeout: timedelta = Field(
        timedelta(hours=1), description="Pipeline timeout when the spec sets none."
    )
    max_timeout: timedelta = Field(
        timedelta(hours=2),
        description="Upper bound on a run's timeout (executionConfig.timeout, timesOutAt).",
    )
    require_pinned_bundles: bool = Field(
        True,
        description="Refuse a bundle reference with neither tag nor digest (false: run it, "
        "with a Warning Event).",
    )
    workers: int = Field(4, ge=1, le=64, description="Concurrent reconciles.")
    leader_election: bool = Field(True, description="Only the Lease holder reconciles.")
    lease_name: str = Field("workflowexecution.kubernaut.ai", description="Leader Lease name.")
    lease_namespace: str = Field("kubernaut-system", description="Namespace of the Lease.")
    lease_duration: timedelta = Field(timedelta(seconds=15), description="Lease duration.")
    renew_deadline: timedelta = Field(timedelta(seconds=10), description="Leader renew deadline.")
    retry_period: timedelta = Field(timedelta(seconds=2), description="Lease retry period.")
    audit_endpoint: str | None = Field(
        None, description="Data Storage base URL for audit batches (default: logs only)."
    )
    audit_buffer_size: int = Field(
        10_000, ge=1, description="Audit events held while the sink is down."
    )
    audit_batch_size: int = Field(100, ge=1, description="Audit events per POST.")
    audit_retry_max: timedelta = Field(
        timedelta(seconds=5),
        description="Longest wait between retries while the audit sink is down (sending "
        "resumes within this once it is back).",
    )
    metric_retention: timedelta = Field(
        timedelta(hours=1), description="How long per-WFE lock series outlive the lock."
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="Log level."
    )
    log_format: Literal["json", "console"] = Field("json", description="Log format.")

    @field_validator(
        "cooldown",
        "backoff_base",
        "backoff_max",
        "default_timeout",
        "max_timeout",
        "lease_duration",
        "renew_deadline",
        "retry_period",
        "metric_retention",
        "audit_retry_max",
        mode="before",
    )
    @classmethod
    def _duration(cls, value: object) -> object:
        if isinstance(value, str):
            return parse_duration(value.strip())
        if isinstance(value, int | float) and not isinstance(value, bool):
            # timedelta overflows (an exception pydantic would not report) long before a float.
            if not abs(value) <= MAX_DURATION.total_seconds():
                raise ValueError(
                    f"longer than {format_duration(MAX_DURATION)}, the longest accepted"
                )
            return timedelta(seconds=value)
        return value

    @field_validator("audit_retry_max")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("must be positive")
        return value

    @field_validator("metrics_address", "health_address")
    @classmethod
    def _check_address(cls, value: str) -> str:
        return _address(value)

    @field_validator("allowed_service_accounts", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(v.strip() for v in value.split(",") if v.strip())
        return value

    def policy(self) -> Policy:
        """The safety policy the core decides with."""
        return Policy(
            execution_namespace=self.execution_namespace,
            cooldown=self.cooldown,
            backoff_base=self.backoff_base,
            backoff_max=self.backoff_max,
            backoff_max_exponent=self.backoff_max_exponent,
            max_consecutive_failures=self.max_consecutive_failures,
            runner_service_account=self.runner_service_account,
            allowed_service_accounts=frozenset(self.allowed_service_accounts),
            default_timeout=self.default_timeout,
            max_timeout=self.max_timeout,
            require_pinned_bundles=self.require_pinned_bundles,
        )


def _environment(env: Mapping[str, str]) -> dict[str, str]:
    fields = set(Settings.model_fields)
    out = {}
    for key, value in env.items():
        if key.startswith(ENV_PREFIX) and key[len(ENV_PREFIX) :].lower() in fields:
            out[key[len(ENV_PREFIX) :].lower()] = value
    return out


def load_settings(
    *,
    config_file: Path | None = None,
    env: Mapping[str, str] | None = None,
    flags: Mapping[str, Any] | None = None,
) -> Settings:
    """Merge the sources and validate.

    Raises:
        ConfigError: naming each invalid setting and its source's value.
    """
    merged: dict[str, Any] = {}
    if config_file is not None:
        try:
            data = yaml.safe_load(config_file.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"config file {config_file}: {exc}") from exc
        if not isinstance(data, dict):
            raise ConfigError(f"config file {config_file}: must be a mapping of settings")
        merged.update({str(k).replace("-", "_"): v for k, v in data.items()})
    merged.update(_environment(os.environ if env is None else env))
    merged.update({k: v for k, v in (flags or {}).items() if v is not None})
    try:
        settings = Settings.model_validate(merged)
        settings.policy()
    except ValidationError as exc:
        lines = [
            f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}"
            for e in exc.errors(include_url=False)
        ]
        raise ConfigError("invalid configuration: " + "; ".join(lines)) from exc
    except InvalidInput as exc:
        raise ConfigError(f"invalid configuration: {exc}") from exc
    return settings


def _default_text(value: object) -> str:
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value) or "(none)"
    if value is None:
        return "(unset)"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def reference_table() -> str:
    """The Markdown table of every setting (docs/configuration.md embeds it; a test checks)."""
    rows = [
        "| setting (YAML key) | environment | flag | default | meaning |",
        "|---|---|---|---|---|",
    ]
    for name, field in Settings.model_fields.items():
        flag = "--" + name.replace("_", "-") if name in FLAG_SETTINGS else f"--set {name}=…"
        rows.append(
            f"| `{name}` | `{ENV_PREFIX}{name.upper()}` | `{flag}` | "
            f"`{_default_text(field.default)}` | {field.description} |"
        )
    return "\n".join(rows) + "\n"
