"""The Helm chart, rendered with the real helm: objects, security, RBAC rules, settings, docs.

What the rendered objects do on a real API server (the controller running with exactly this
RBAC, and SubjectAccessReviews) is in tests/integration/deploy.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from helmchart import (
    CHART,
    DERIVED_SETTINGS,
    ROOT,
    VALUE_DOCS,
    HelmError,
    Rendered,
    documented_table,
    render,
    template,
    value_docs,
    values_table,
)

from wfe.api import crd
from wfe.config import Settings, load_settings, reference_table

sys.path.insert(0, str(ROOT))
from monitoring import alerts

NAME = "workflow-execution"
RELEASE_NS = "kubernaut-system"
EXEC_NS = "kubernaut-workflows"

# The controller's permissions, exactly (docs/deploy.md). Any change here must come with a
# change of what the controller does at the API (and the integration test proves it).
CLUSTER_RULES = [
    {
        "apiGroups": ["kubernaut.ai"],
        "resources": ["workflowexecutions"],
        "verbs": ["get", "list", "watch", "patch"],
    },
    {"apiGroups": ["kubernaut.ai"], "resources": ["workflowexecutions/status"], "verbs": ["patch"]},
    {"apiGroups": [""], "resources": ["events"], "verbs": ["create"]},
]
EXEC_RULES = [
    {
        "apiGroups": ["tekton.dev"],
        "resources": ["pipelineruns"],
        "verbs": ["get", "list", "watch", "create", "patch", "delete"],
    },
    {"apiGroups": ["tekton.dev"], "resources": ["taskruns"], "verbs": ["get", "list", "watch"]},
]
LEASE_RULES = [
    {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
    {
        "apiGroups": ["coordination.k8s.io"],
        "resources": ["leases"],
        "resourceNames": ["workflowexecution.kubernaut.ai"],
        "verbs": ["get", "update"],
    },
]


@pytest.fixture(scope="module")
def chart(helm: Path) -> Rendered:
    """The chart with its default values (monitoring objects on), as `helm install` renders it."""
    return render(
        helm,
        namespace=RELEASE_NS,
        sets=["serviceMonitor.enabled=true", "prometheusRule.enabled=true"],
    )


def _container(chart: Rendered) -> dict[str, Any]:
    containers = chart.one("Deployment", NAME)["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    container: dict[str, Any] = containers[0]
    return container


def _settings_text(chart: Rendered) -> str:
    text: str = chart.one("ConfigMap", f"{NAME}-config")["data"]["config.yaml"]
    return text


# --- what the chart contains ---------------------------------------------------------------------


def test_default_objects(helm: Path) -> None:
    kinds = render(helm, namespace=RELEASE_NS).kinds()
    assert kinds == sorted(
        [
            ("ClusterRole", "", f"{RELEASE_NS}-{NAME}"),
            ("ClusterRoleBinding", "", f"{RELEASE_NS}-{NAME}"),
            ("ConfigMap", RELEASE_NS, f"{NAME}-config"),
            ("Deployment", RELEASE_NS, NAME),
            ("Namespace", "", EXEC_NS),
            ("NetworkPolicy", RELEASE_NS, NAME),
            ("PodDisruptionBudget", RELEASE_NS, NAME),
            ("Role", EXEC_NS, NAME),
            ("Role", EXEC_NS, "kubernaut-workflow-runner"),
            ("Role", RELEASE_NS, f"{NAME}-leader-election"),
            ("RoleBinding", EXEC_NS, NAME),
            ("RoleBinding", EXEC_NS, "kubernaut-workflow-runner"),
            ("RoleBinding", RELEASE_NS, f"{NAME}-leader-election"),
            ("Service", RELEASE_NS, NAME),
            ("ServiceAccount", EXEC_NS, "kubernaut-workflow-runner"),
            ("ServiceAccount", RELEASE_NS, NAME),
        ]
    )


def test_every_object_carries_the_app_label(chart: Rendered) -> None:
    for doc in chart.docs:
        labels = doc["metadata"].get("labels", {})
        assert labels.get("app") == NAME, doc["metadata"]["name"]
        assert labels.get("app.kubernetes.io/instance") == NAME


def test_crd_is_the_generated_one() -> None:
    copy = (CHART / "crds" / "workflowexecutions.kubernaut.ai.yaml").read_bytes()
    assert copy == (ROOT / "src" / "wfe" / "api" / "crd.yaml").read_bytes(), (
        "the chart's CRD differs from src/wfe/api/crd.yaml: copy it to crds/"
    )
    assert copy.decode() == crd.crd_yaml()
    assert [p.name for p in (CHART / "crds").iterdir()] == ["workflowexecutions.kubernaut.ai.yaml"]


def test_crd_is_rendered_only_with_include_crds(helm: Path) -> None:
    assert render(helm).maybe("CustomResourceDefinition") is None
    rendered = render(helm, include_crds=True).one("CustomResourceDefinition")
    assert rendered == yaml.safe_load((ROOT / "src" / "wfe" / "api" / "crd.yaml").read_text())


# --- the Deployment ------------------------------------------------------------------------------


def test_names_are_the_ones_the_runbooks_and_alerts_use(chart: Rendered) -> None:
    assert alerts.DEPLOYMENT == NAME
    assert alerts.NAMESPACE == RELEASE_NS
    assert chart.one("Deployment", NAME)["metadata"]["labels"]["app"] == NAME


def test_deployment_replicas_rollback_and_labels(chart: Rendered) -> None:
    deployment = chart.one("Deployment", NAME)
    spec = deployment["spec"]
    assert deployment["metadata"]["namespace"] == RELEASE_NS
    assert spec["replicas"] == 2
    assert spec["revisionHistoryLimit"] == 10
    assert spec["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}
    pod_labels = spec["template"]["metadata"]["labels"]
    assert pod_labels["app"] == NAME
    assert spec["selector"]["matchLabels"].items() <= pod_labels.items()
    assert spec["selector"]["matchLabels"]["app"] == NAME


def test_deployment_security_context(chart: Rendered) -> None:
    pod = chart.one("Deployment", NAME)["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] > 0
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    security = _container(chart)["securityContext"]
    assert security["runAsNonRoot"] is True
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert security["seccompProfile"] == {"type": "RuntimeDefault"}
    assert "privileged" not in security
    for host_namespace in ("hostNetwork", "hostPID", "hostIPC"):
        assert not pod.get(host_namespace)
    # Writable scratch space despite the read-only root filesystem.
    mounts = {m["mountPath"]: m["name"] for m in _container(chart)["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]


def test_deployment_probes_ports_and_resources(chart: Rendered) -> None:
    container = _container(chart)
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"metrics": 9090, "health": 8081}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "health"}
    resources = container["resources"]
    assert set(resources["requests"]) == {"cpu", "memory"}
    assert set(resources["limits"]) == {"cpu", "memory"}


def test_deployment_runs_wfe_with_the_mounted_config(chart: Rendered) -> None:
    deployment = chart.one("Deployment", NAME)
    pod = deployment["spec"]["template"]["spec"]
    container = _container(chart)
    assert container["args"][0] == "--config"
    config_path = Path(container["args"][1])
    mount = next(m for m in container["volumeMounts"] if m["mountPath"] == str(config_path.parent))
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    assert volume["configMap"]["name"] == f"{NAME}-config"
    assert config_path.name in chart.one("ConfigMap", f"{NAME}-config")["data"]
    assert pod["serviceAccountName"] == NAME
    assert chart.one("ServiceAccount", NAME)["metadata"]["namespace"] == RELEASE_NS
    assert container["image"] == "registry.example.com/kubernaut/workflow-execution:0.1.0"


def test_config_change_rolls_the_pods(helm: Path) -> None:
    def checksum(*sets: str) -> str:
        deployment = render(helm, sets=list(sets)).one("Deployment", NAME)
        value: str = deployment["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
        return value

    assert checksum() != checksum("config.cooldown=10m")
    assert checksum() == checksum()


def test_image_digest_wins_over_tag(helm: Path) -> None:
    digest = "sha256:" + "a" * 64
    chart = render(helm, sets=["image.tag=9.9.9", f"image.digest={digest}"])
    assert (
        _container(chart)["image"] == f"registry.example.com/kubernaut/workflow-execution@{digest}"
    )


@pytest.mark.parametrize(
    ("mode", "key"),
    [
        ("soft", "preferredDuringSchedulingIgnoredDuringExecution"),
        ("hard", "requiredDuringSchedulingIgnoredDuringExecution"),
    ],
)
def test_replicas_spread_over_nodes(helm: Path, mode: str, key: str) -> None:
    pod = render(helm, sets=[f"podAntiAffinity={mode}"]).one("Deployment")["spec"]["template"]
    assert list(pod["spec"]["affinity"]["podAntiAffinity"]) == [key]
    none = render(helm, sets=["podAntiAffinity=none"]).one("Deployment")["spec"]["template"]
    assert "affinity" not in none["spec"]
    with pytest.raises(HelmError, match="soft, hard or none"):
        render(helm, sets=["podAntiAffinity=sometimes"])


# --- settings (the ConfigMap) --------------------------------------------------------------------


def test_configmap_is_a_valid_settings_file(chart: Rendered, tmp_path: Path) -> None:
    file = tmp_path / "config.yaml"
    file.write_text(_settings_text(chart))
    settings = load_settings(config_file=file, env={})
    assert settings.execution_namespace == EXEC_NS
    assert settings.lease_namespace == RELEASE_NS
    assert settings.lease_name == "workflowexecution.kubernaut.ai"
    assert settings.runner_service_account == "kubernaut-workflow-runner"
    assert settings.metrics_address == ":9090"
    assert settings.health_address == ":8081"
    assert settings.leader_election is True
    # Everything else keeps the controller's own defaults (the chart does not restate them).
    assert set(yaml.safe_load(_settings_text(chart))) == set(DERIVED_SETTINGS)


def test_derived_settings_follow_the_chart_values(helm: Path, tmp_path: Path) -> None:
    chart = render(
        helm,
        namespace="ops",
        sets=[
            "namespaces.execution=remediation",
            "runner.serviceAccount.name=fixer",
            "ports.metrics=9191",
            "ports.health=8181",
        ],
    )
    file = tmp_path / "config.yaml"
    file.write_text(_settings_text(chart))
    settings = load_settings(config_file=file, env={})
    assert (settings.execution_namespace, settings.lease_namespace) == ("remediation", "ops")
    assert settings.runner_service_account == "fixer"
    assert (settings.metrics_address, settings.health_address) == (":9191", ":8181")
    assert chart.one("ServiceAccount", "fixer")["metadata"]["namespace"] == "remediation"
    assert chart.one("Role", NAME)["metadata"]["namespace"] == "remediation"
    ports = {p["name"]: p["containerPort"] for p in _container(chart)["ports"]}
    assert ports == {"metrics": 9191, "health": 8181}
    assert chart.one("Service")["spec"]["ports"][0]["port"] == 9191


def _setting_values() -> dict[str, Any]:
    """A valid value of every setting but the derived ones, as YAML would hold it."""
    from wfe.core.durations import format_duration

    values: dict[str, Any] = {}
    for name, field in Settings.model_fields.items():
        if name in DERIVED_SETTINGS:
            continue
        default = field.default
        if name == "watch_namespace":
            values[name] = "payments"
        elif name == "audit_endpoint":
            values[name] = "http://data-storage.kubernaut-system:8080"
        elif name == "allowed_service_accounts":
            values[name] = ["fixer", "auditor"]
        elif hasattr(default, "total_seconds"):
            values[name] = format_duration(default * 2)
        elif isinstance(default, bool):
            values[name] = default
        elif isinstance(default, int):
            values[name] = default + 1
        else:
            values[name] = default
    return values


def test_every_setting_is_a_config_value(helm: Path, tmp_path: Path) -> None:
    values = _setting_values()
    chart = render(helm, values={"config": values})
    written = yaml.safe_load(_settings_text(chart))
    assert {k: v for k, v in written.items() if k not in DERIVED_SETTINGS} == values
    file = tmp_path / "config.yaml"
    file.write_text(_settings_text(chart))
    settings = load_settings(config_file=file, env={})
    assert settings.workers == Settings().workers + 1
    assert settings.cooldown == 2 * Settings().cooldown
    assert settings.allowed_service_accounts == ("fixer", "auditor")


@pytest.mark.parametrize("setting", sorted(DERIVED_SETTINGS))
def test_derived_settings_are_refused_in_config(helm: Path, setting: str) -> None:
    with pytest.raises(HelmError, match=f"config.{setting} is set by the chart"):
        render(helm, sets=[f"config.{setting}=x"])
    env = f"WFE_{setting.upper()}"
    with pytest.raises(HelmError, match=f"extraEnv {env}"):
        render(helm, sets=[f"extraEnv[0].name={env}", "extraEnv[0].value=x"])


def test_the_derived_settings_are_the_documented_ones() -> None:
    assert set(DERIVED_SETTINGS) <= set(Settings.model_fields)
    text = (ROOT / "docs" / "configuration.md").read_text()
    table = text.split("| setting | chart value |\n|---|---|\n", 1)[1].split("\n\n", 1)[0]
    rows = dict(line.strip("|").split("|", 1) for line in table.splitlines())
    documented = {k.strip().strip("`"): v.strip() for k, v in rows.items()}
    assert set(documented) == set(DERIVED_SETTINGS)
    for setting, value in DERIVED_SETTINGS.items():
        assert value in documented[setting], setting


def test_leader_election_needs_one_replica_to_be_off(helm: Path) -> None:
    with pytest.raises(HelmError, match="leader_election"):
        render(helm, sets=["config.leader_election=false"])
    single = render(helm, sets=["replicas=1", "config.leader_election=false"])
    assert single.maybe("Role", f"{NAME}-leader-election") is None
    assert single.maybe("RoleBinding", f"{NAME}-leader-election") is None
    # A true spelling pydantic accepts keeps the Lease permissions.
    on = render(helm, sets=["replicas=1", "config.leader_election=yes"])
    assert on.one("Role", f"{NAME}-leader-election")["rules"] == LEASE_RULES


# --- RBAC ----------------------------------------------------------------------------------------


def test_controller_rbac_rules_are_exactly_what_it_uses(chart: Rendered) -> None:
    assert chart.one("ClusterRole", f"{RELEASE_NS}-{NAME}")["rules"] == CLUSTER_RULES
    role = chart.one("Role", NAME)
    assert role["metadata"]["namespace"] == EXEC_NS
    assert role["rules"] == EXEC_RULES
    lease = chart.one("Role", f"{NAME}-leader-election")
    assert lease["metadata"]["namespace"] == RELEASE_NS
    assert lease["rules"] == LEASE_RULES


def test_bindings_name_the_controller_service_account(chart: Rendered) -> None:
    subject = [{"kind": "ServiceAccount", "name": NAME, "namespace": RELEASE_NS}]
    binding = chart.one("ClusterRoleBinding")
    assert binding["subjects"] == subject
    assert binding["roleRef"]["name"] == f"{RELEASE_NS}-{NAME}"
    for name, namespace in ((NAME, EXEC_NS), (f"{NAME}-leader-election", RELEASE_NS)):
        role_binding = chart.one("RoleBinding", name)
        assert role_binding["metadata"]["namespace"] == namespace
        assert role_binding["subjects"] == subject
        assert role_binding["roleRef"] == {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "Role",
            "name": name,
        }


def test_lease_rule_follows_the_lease_name(helm: Path) -> None:
    chart = render(helm, sets=["config.lease_name=wfe-leader"])
    assert chart.one("Role", f"{NAME}-leader-election")["rules"][1]["resourceNames"] == [
        "wfe-leader"
    ]


def test_watch_namespace_grants_in_that_namespace_only(helm: Path) -> None:
    chart = render(helm, sets=["config.watch_namespace=payments"])
    assert chart.maybe("ClusterRoleBinding") is None
    (binding,) = [b for b in chart.all("RoleBinding") if b["metadata"]["namespace"] == "payments"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": NAME, "namespace": RELEASE_NS}
    ]
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": f"{RELEASE_NS}-{NAME}",
    }


@pytest.mark.parametrize(
    "sets",
    [
        [],
        ["config.watch_namespace=payments"],
        ["runner.clusterRules[0].apiGroups[0]=apps", "runner.clusterRules[0].resources[0]=x"],
    ],
)
def test_no_rule_has_a_wildcard(helm: Path, sets: list[str]) -> None:
    chart = render(helm, sets=sets)
    roles = chart.all("ClusterRole") + chart.all("Role")
    assert roles
    for role in roles:
        for rule in role["rules"]:
            for field in ("apiGroups", "resources", "verbs", "resourceNames", "nonResourceURLs"):
                assert not any("*" in item for item in rule.get(field, [])), (role, rule)


def test_runner_has_a_role_with_no_rules_by_default(chart: Rendered) -> None:
    account = chart.one("ServiceAccount", "kubernaut-workflow-runner")
    assert account["metadata"]["namespace"] == EXEC_NS
    role = chart.one("Role", "kubernaut-workflow-runner")
    assert role["rules"] == []
    binding = chart.one("RoleBinding", "kubernaut-workflow-runner")
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "kubernaut-workflow-runner", "namespace": EXEC_NS}
    ]
    assert [r["metadata"]["name"] for r in chart.all("ClusterRole")] == [f"{RELEASE_NS}-{NAME}"]


def test_runner_rules_from_values(helm: Path) -> None:
    rule = {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "patch"]}
    chart = render(helm, values={"runner": {"rules": [rule], "clusterRules": [rule]}})
    assert chart.one("Role", "kubernaut-workflow-runner")["rules"] == [rule]
    cluster_role = chart.one("ClusterRole", f"{EXEC_NS}-kubernaut-workflow-runner")
    assert cluster_role["rules"] == [rule]
    binding = chart.one("ClusterRoleBinding", f"{EXEC_NS}-kubernaut-workflow-runner")
    assert binding["subjects"][0]["name"] == "kubernaut-workflow-runner"


def test_rbac_off_renders_no_rbac(helm: Path) -> None:
    kinds = {kind for kind, _, _ in render(helm, sets=["rbac.create=false"]).kinds()}
    assert not kinds & {"ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"}


# --- namespaces ----------------------------------------------------------------------------------


def test_namespaces_optional_and_kept(helm: Path) -> None:
    both = render(helm, namespace="ops", sets=["namespaces.createReleaseNamespace=true"])
    names = sorted(n["metadata"]["name"] for n in both.all("Namespace"))
    assert names == ["kubernaut-workflows", "ops"]
    for namespace in both.all("Namespace"):
        assert namespace["metadata"]["annotations"] == {"helm.sh/resource-policy": "keep"}
    none = render(helm, sets=["namespaces.createExecution=false"])
    assert none.all("Namespace") == []
    unkept = render(helm, sets=["namespaces.keep=false"]).one("Namespace")
    assert "annotations" not in unkept["metadata"]


# --- Service, monitoring, NetworkPolicy, PDB -----------------------------------------------------


def _selects(selector: dict[str, str], chart: Rendered) -> bool:
    labels = chart.one("Deployment", NAME)["spec"]["template"]["metadata"]["labels"]
    return bool(selector) and selector.items() <= labels.items()


def test_metrics_service_and_service_monitor(chart: Rendered) -> None:
    service = chart.one("Service", NAME)
    assert _selects(service["spec"]["selector"], chart)
    assert service["spec"]["ports"] == [
        {"name": "metrics", "port": 9090, "targetPort": "metrics", "protocol": "TCP"}
    ]
    # Not-ready pods keep being scraped (RB-WE-004 needs their metrics while Tekton is missing).
    assert service["spec"]["publishNotReadyAddresses"] is True
    monitor = chart.one("ServiceMonitor", NAME)
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [RELEASE_NS]}
    # The job label the alert rules select on is the Service's `app` label.
    assert service["metadata"]["labels"][monitor["spec"]["jobLabel"]] == alerts.JOB
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] == "metrics"
    assert endpoint["path"] == "/metrics"
    assert endpoint["honorLabels"] is True


def test_monitoring_objects_are_optional(helm: Path) -> None:
    kinds = {kind for kind, _, _ in render(helm).kinds()}
    assert not kinds & {"ServiceMonitor", "PrometheusRule"}


def test_prometheus_rule_is_the_monitoring_one(chart: Rendered) -> None:
    source_path = ROOT / "monitoring" / "prometheus" / "prometheusrule.yaml"
    copy_path = CHART / "files" / "prometheusrule.yaml"
    assert copy_path.read_bytes() == source_path.read_bytes(), (
        "copy monitoring/prometheus/prometheusrule.yaml to "
        "deploy/helm/workflow-execution/files/prometheusrule.yaml"
    )
    source = yaml.safe_load(source_path.read_text())
    rule = chart.one("PrometheusRule", NAME)
    assert rule["spec"] == source["spec"]
    assert rule["metadata"]["namespace"] == RELEASE_NS
    assert source["metadata"]["labels"].items() <= rule["metadata"]["labels"].items()
    # The rules' Prometheus templates reach Prometheus untouched by helm.
    assert "{{ $value" in yaml.safe_dump(rule["spec"])


def test_network_policy(chart: Rendered) -> None:
    policy = chart.one("NetworkPolicy", NAME)["spec"]
    assert _selects(policy["podSelector"]["matchLabels"], chart)
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    assert policy["ingress"] == [{"ports": [{"port": "metrics", "protocol": "TCP"}]}]
    api_server, dns = policy["egress"]
    assert {p["port"] for p in api_server["ports"]} == {443, 6443}
    assert {(p["port"], p["protocol"]) for p in dns["ports"]} == {(53, "UDP"), (53, "TCP")}


def test_network_policy_values(helm: Path) -> None:
    peer = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
    egress = {"to": [{"ipBlock": {"cidr": "10.1.0.0/16"}}], "ports": [{"port": 8080}]}
    chart = render(
        helm,
        values={
            "networkPolicy": {
                "metricsFrom": [peer],
                "apiServerCIDRs": ["10.0.0.1/32"],
                "dns": False,
                "extraEgress": [egress],
            }
        },
    )
    policy = chart.one("NetworkPolicy")["spec"]
    assert policy["ingress"][0]["from"] == [peer]
    assert policy["egress"][0]["to"] == [{"ipBlock": {"cidr": "10.0.0.1/32"}}]
    assert policy["egress"][1:] == [egress]
    assert render(helm, sets=["networkPolicy.enabled=false"]).maybe("NetworkPolicy") is None


def test_pod_disruption_budget(chart: Rendered) -> None:
    pdb = chart.one("PodDisruptionBudget", NAME)["spec"]
    assert _selects(pdb["selector"]["matchLabels"], chart)
    assert pdb["minAvailable"] == 1 < chart.one("Deployment")["spec"]["replicas"]


# --- lint and documentation ----------------------------------------------------------------------


def test_helm_lint(helm: Path) -> None:
    import subprocess

    result = subprocess.run(
        [str(helm), "lint", "--strict", str(CHART)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_value_is_documented_in_values_yaml() -> None:
    docs = value_docs()
    data = yaml.safe_load((CHART / "values.yaml").read_text())
    documented = {d.key for d in docs}
    # Each top-level key is reached (documented itself or through its keys).
    assert {k.split(".")[0] for k in documented} == set(data)
    assert all(d.description for d in docs)


def test_value_docs_reject_an_undocumented_key() -> None:
    with pytest.raises(AssertionError, match=r"image\.tag has no comment"):
        value_docs("image:\n  # Repository.\n  repository: r\n  tag: t\n")
    assert [d.key for d in value_docs("# A.\na: 1\nb:\n  # C.\n  c: {x: 1}\n")] == ["a", "b.c"]


@pytest.mark.parametrize("doc", VALUE_DOCS, ids=lambda p: p.name)
def test_docs_have_every_chart_value(doc: Path) -> None:
    assert documented_table(doc) == values_table(), (
        f"{doc.name}'s chart values differ from values.yaml: "
        "run .venv/bin/python tests/deploy/helmchart.py --write"
    )


def test_configuration_doc_keeps_the_settings_table() -> None:
    text = (ROOT / "docs" / "configuration.md").read_text()
    assert reference_table() in text


def test_chart_renders_with_the_documented_example(helm: Path) -> None:
    # The install line of docs/deploy.md.
    text = template(helm, sets=["image.repository=registry.example.com/wfe"])
    assert 'image: "registry.example.com/wfe:0.1.0"' in text
