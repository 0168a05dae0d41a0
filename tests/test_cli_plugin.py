"""`kubectl wfe`, `--version`, completion, `-o`, the default namespace, and user errors.

User errors go through the real `kube.client.Client` error mapping: the ApiClient is replaced
by one whose every call fails as the API server (or the network) would.
"""

from __future__ import annotations

import importlib.metadata
import json
import tomllib
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from kubernetes_asyncio.client import ApiException
from typer.testing import CliRunner

from wfe.cli import clear_block, cluster, explain
from wfe.cli.main import app

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def _kubeconfig(path: Path, namespace: str | None = None, current: str = "c") -> Path:
    context: dict[str, Any] = {"cluster": "k", "user": "u"}
    if namespace:
        context["namespace"] = namespace
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": current,
                "clusters": [{"name": "k", "cluster": {"server": "https://127.0.0.1:1"}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "c", "context": context}],
            }
        )
    )
    return path


def test_kubectl_wfe_is_the_same_app_as_wfe() -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["kubectl-wfe"] == scripts["wfe"] == "wfe.cli.main:app"


def test_krew_manifest_shape() -> None:
    doc = yaml.safe_load((ROOT / "deploy/krew/wfe.yaml").read_text())
    assert doc["apiVersion"] == "krew.googlecontainertools.github.com/v1alpha2"
    assert doc["kind"] == "Plugin"
    assert doc["metadata"]["name"] == "wfe"  # `kubectl wfe`
    spec = doc["spec"]
    version = importlib.metadata.version("wfe")
    assert spec["version"] == f"v{version}"
    assert spec["shortDescription"]
    assert spec["description"]
    platforms = spec["platforms"]
    assert {
        (p["selector"]["matchLabels"]["os"], p["selector"]["matchLabels"]["arch"])
        for p in platforms
    } >= {("linux", "amd64")}
    for p in platforms:
        assert p["bin"] == "kubectl-wfe"
        # Placeholders until the release process fills them; nothing else passes for one.
        assert p["uri"] == "RELEASE-URL" or p["uri"].startswith("https://")
        assert p["sha256"] == "RELEASE-SHA256" or (
            len(p["sha256"]) == 64 and int(p["sha256"], 16) >= 0
        )


def test_version_is_the_package_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout == f"wfe {importlib.metadata.version('wfe')}\n"


def test_shell_completion_is_enabled() -> None:
    result = runner.invoke(app, ["--help"])
    assert "--install-completion" in result.stdout
    assert "--show-completion" in result.stdout


@pytest.mark.parametrize("output", ["json", "yaml"])
def test_lock_name_structured_output(output: str) -> None:
    result = runner.invoke(app, ["lock-name", "payment/deploy/payment-api", "-o", output])
    assert result.exit_code == 0
    data = json.loads(result.stdout) if output == "json" else yaml.safe_load(result.stdout)
    assert data["target"] == "payment/deploy/payment-api"
    assert data["lock"].startswith("wfe-")
    assert "'payment/Deployment/payment-api'" in data["warning"]
    good = runner.invoke(app, ["lock-name", "payment/Deployment/payment-api", "-o", output])
    parsed = json.loads(good.stdout) if output == "json" else yaml.safe_load(good.stdout)
    assert parsed == {
        "target": "payment/Deployment/payment-api",
        "lock": "wfe-7c240c08fe7f0cc3",
        "warning": None,
    }


def test_lock_name_rejects_an_unknown_output() -> None:
    assert runner.invoke(app, ["lock-name", "Node/a", "-o", "wide"]).exit_code == 2


def test_crd_as_json_is_the_same_manifest() -> None:
    as_json = json.loads(runner.invoke(app, ["crd", "-o", "json"]).stdout)
    assert as_json == yaml.safe_load(runner.invoke(app, ["crd"]).stdout)


def test_default_namespace_is_the_current_contexts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with_ns = _kubeconfig(tmp_path / "a", namespace="payment")
    without = _kubeconfig(tmp_path / "b")
    assert cluster.default_namespace(with_ns) == "payment"
    assert cluster.default_namespace(without) == "default"
    # $KUBECONFIG merged as kubectl merges: the first file to set current-context wins.
    monkeypatch.setenv("KUBECONFIG", f"{tmp_path / 'missing'}:{with_ns}:{without}")
    assert cluster.default_namespace(None) == "payment"


def test_default_namespace_in_cluster_is_the_service_accounts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "token").write_text("t")
    (tmp_path / "namespace").write_text("kubernaut-system\n")
    monkeypatch.setattr(cluster, "SERVICE_ACCOUNT_NAMESPACE", tmp_path / "namespace")
    monkeypatch.setattr(cluster, "_SERVICE_ACCOUNT_TOKEN", tmp_path / "token")
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    assert cluster.default_namespace(None) == "kubernaut-system"
    # An explicit --kubeconfig wins, as api_client lets it.
    assert cluster.default_namespace(_kubeconfig(tmp_path / "k", "payment")) == "payment"


class _FailingApi:
    """An ApiClient whose every request fails with `error`."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    async def __aenter__(self) -> _FailingApi:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def call_api(self, *args: object, **kwargs: object) -> Any:
        raise self.error


def _status(code: int, reason: str, message: str) -> ApiException:
    exc = ApiException(status=code, reason=reason)
    exc.body = json.dumps({"kind": "Status", "code": code, "reason": reason, "message": message})
    return exc


COMMANDS = {
    "explain": ["explain", "bad"],
    "explain-target": ["explain", "--target", "payment/Deployment/a"],
    "locks": ["locks"],
    "clear-block": ["clear-block", "bad", "--reason", "checked"],
}
FAILURES = {
    "not-found": (
        _status(404, "NotFound", 'workflowexecutions "bad" not found'),
        "not found",
    ),
    "forbidden": (
        _status(403, "Forbidden", "user cannot get workflowexecutions"),
        "kubectl auth can-i",
    ),
    "unauthorized": (_status(401, "Unauthorized", "Unauthorized"), "refresh them"),
    "unreachable": (
        aiohttp.ClientConnectionError("Cannot connect to host 127.0.0.1:1"),
        "cannot reach the API server",
    ),
}


# Lists and hypothetical explanations name no one object, so "not found" does not apply.
_CASES = [
    (command, failure)
    for command in sorted(COMMANDS)
    for failure in sorted(FAILURES)
    if not (failure == "not-found" and command in ("locks", "explain-target"))
]


@pytest.mark.parametrize(("command", "failure"), _CASES)
def test_api_failures_are_one_line_and_exit_1(
    command: str, failure: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    error, says = FAILURES[failure]

    async def failing(kubeconfig: Path | None) -> _FailingApi:
        return _FailingApi(error)

    monkeypatch.setattr(explain, "api_client", failing)
    monkeypatch.setattr(clear_block, "api_client", failing)
    kubeconfig = _kubeconfig(tmp_path / "config")
    result = runner.invoke(app, [*COMMANDS[command], "--kubeconfig", str(kubeconfig)])
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert says in lines[0]
    assert "Traceback" not in result.output


KUBECONFIGS = {
    "missing": (None, "does not exist"),
    "not-yaml": ("clusters: [", "unreadable"),
    "not-a-mapping": ("just text", "not a kubeconfig"),
    "no-context": ("apiVersion: v1\nkind: Config\n", "no current-context"),
}


@pytest.mark.parametrize("command", [*sorted(COMMANDS), "run"])
@pytest.mark.parametrize("problem", sorted(KUBECONFIGS))
def test_kubeconfig_problems_are_one_line_and_exit_1(
    command: str, problem: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    content, says = KUBECONFIGS[problem]
    path = tmp_path / "config"
    if content is not None:
        path.write_text(content)
    args = COMMANDS.get(command, ["run"])
    result = runner.invoke(app, [*args, "--kubeconfig", str(path)])
    assert result.exit_code == 1, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert says in lines[0]
    assert str(path) in lines[0]


def test_clear_block_with_an_empty_reason_is_a_usage_error() -> None:
    result = runner.invoke(app, ["clear-block", "bad", "--reason", " "])
    assert result.exit_code == 2
    assert "--reason" in result.stderr
