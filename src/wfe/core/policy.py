"""The controller's safety policy as plain data: cooldown, backoff, timeouts, identities,
bundle pinning.

Built from the validated settings (`wfe.config`) by the shell and handed to every core
decision, so the core never reads configuration itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from wfe.core.errors import InvalidInput, Problem

__all__ = ["Policy"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Policy:
    """Defaults are SPEC §4/§9's."""

    execution_namespace: str = "kubernaut-workflows"
    cooldown: timedelta = timedelta(minutes=5)
    backoff_base: timedelta = timedelta(seconds=60)
    backoff_max: timedelta = timedelta(minutes=10)
    backoff_max_exponent: int = 4
    max_consecutive_failures: int = 5
    runner_service_account: str = "kubernaut-workflow-runner"
    allowed_service_accounts: frozenset[str] = field(default_factory=frozenset)
    default_timeout: timedelta = timedelta(hours=1)
    max_timeout: timedelta = timedelta(hours=2)
    # A bundle with neither tag nor digest runs whatever `latest` is at run time (docs/api.md).
    require_pinned_bundles: bool = True

    def __post_init__(self) -> None:
        problems: list[Problem] = []
        for name in ("cooldown", "backoff_base", "backoff_max"):
            if getattr(self, name) < timedelta(0):
                problems.append(Problem(name, "must not be negative"))
        for name in ("default_timeout", "max_timeout"):
            if getattr(self, name) <= timedelta(0):
                problems.append(Problem(name, "must be positive"))
        if self.backoff_max < self.backoff_base:
            problems.append(Problem("backoff_max", "must be at least backoff_base"))
        if not 0 <= self.backoff_max_exponent <= 30:
            problems.append(Problem("backoff_max_exponent", "must be between 0 and 30"))
        if self.max_consecutive_failures < 1:
            problems.append(Problem("max_consecutive_failures", "must be at least 1"))
        if self.default_timeout > self.max_timeout:
            problems.append(Problem("default_timeout", "must not exceed max_timeout"))
        if not self.runner_service_account:
            problems.append(Problem("runner_service_account", "must not be empty"))
        if problems:
            raise InvalidInput(problems)

    def service_account_allowed(self, name: str) -> bool:
        """The runner account is always allowed; others only when listed."""
        return name == self.runner_service_account or name in self.allowed_service_accounts
