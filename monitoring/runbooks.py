"""The shell blocks of `docs/runbooks/README.md`, for the tests that run or check them.

A runbook block is a fenced block whose info string is `bash local id=NAME` (runs on the
local control plane: `tests/integration/monitoring/test_runbooks.py` executes it) or
`bash cluster id=NAME` (needs a real cluster: `tests/monitoring/test_runbook_syntax.py`
checks its syntax and that kubectl accepts its subcommands and flags). Blocks may sit in list
items; their indentation is removed.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

__all__ = ["RUNBOOK", "Block", "blocks", "kubectl_commands"]

RUNBOOK = Path(__file__).resolve().parents[1] / "docs" / "runbooks" / "README.md"
_FENCE = re.compile(r"^(?P<indent>\s*)```(?P<info>[^`]*)$")
_MARKED = re.compile(r"^bash\s+(?P<where>local|cluster)\s+id=(?P<id>[\w-]+)\s*$")
_SUBSTITUTION = re.compile(r"\$\(([^()]*)\)")
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_SEPARATORS = frozenset({"|", "||", "&&", ";", "&", ";;"})


@dataclass(frozen=True, slots=True)
class Block:
    """One fenced code block."""

    info: str
    where: str | None  # "local", "cluster", or None for an unmarked block
    id: str | None
    text: str


def blocks(path: Path = RUNBOOK) -> list[Block]:
    """Every fenced block of the document, in order."""
    out: list[Block] = []
    lines = path.read_text().splitlines()
    i = 0
    while i < len(lines):
        fence = _FENCE.match(lines[i])
        if fence is None or not fence.group("info").strip():
            i += 1
            continue
        indent, info = fence.group("indent"), fence.group("info").strip()
        body: list[str] = []
        i += 1
        while not lines[i].strip().startswith("```"):
            line = lines[i]
            body.append(line[len(indent) :] if line.startswith(indent) else line.lstrip())
            i += 1
        marked = _MARKED.match(info)
        out.append(
            Block(
                info=info,
                where=marked.group("where") if marked else None,
                id=marked.group("id") if marked else None,
                text="\n".join(body) + "\n",
            )
        )
        i += 1
    return out


def kubectl_commands(script: str) -> list[list[str]]:
    """The argument lists of every `kubectl` command in `script`, command substitutions too.

    Variables stay unexpanded (`"$PR_NAME"` is one word); comments are dropped.
    """
    script = script.replace("\\\n", " ")
    found: list[list[str]] = []
    for line in script.splitlines():
        pending = [line]
        while pending:
            text = pending.pop()
            for inner in _SUBSTITUTION.findall(text):
                pending.append(inner)
            text = _SUBSTITUTION.sub("SUBSTITUTED", text)
            lexer = shlex.shlex(text, posix=True, punctuation_chars="|&;")
            lexer.whitespace_split = True
            lexer.commenters = "#"
            command: list[str] = []
            for token in [*list(lexer), ";"]:
                if token in _SEPARATORS:
                    words = list(command)
                    while words and _ASSIGNMENT.match(words[0]):
                        words.pop(0)
                    if words and words[0] == "kubectl":
                        found.append(words[1:])
                    command = []
                else:
                    command.append(token)
    return found
