"""WorkflowExecution controller: runs Tekton remediation workflows with per-target locking,
cooldown, backoff and blocking (see docs/architecture.md)."""

__all__ = ["__version__"]

__version__ = "0.1.0"
