"""What a PromQL expression refers to: metric names, label matchers and label names.

A small tokenizer, not a PromQL parser: it is enough to check that every series and label an
alert rule or a dashboard panel names is one the exporter really emits (see
`monitoring/exporter-series.json` and `tests/monitoring/test_series_contract.py`). It knows
the PromQL vocabulary (functions, aggregations, keywords) so that everything else that looks
like an identifier is a metric name, and it reads the label names of `by`/`without`/`on`/
`ignoring`/`group_left`/`group_right` lists and of `label_replace`/`label_join`.

Syntax errors are promtool's business (`promtool check rules`); this module only raises
`ValueError` on text it cannot tokenize at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["Matcher", "References", "SeriesRef", "parse_series", "references"]

_FUNCTIONS = frozenset(
    """abs absent absent_over_time acos acosh asin asinh atan atanh avg_over_time ceil
    changes clamp clamp_max clamp_min cos cosh count_over_time day_of_month day_of_week
    day_of_year days_in_month deg delta deriv exp floor histogram_count histogram_fraction
    histogram_quantile histogram_sum holt_winters hour idelta increase irate label_join
    label_replace last_over_time ln log10 log2 mad_over_time max_over_time min_over_time
    minute month pi predict_linear present_over_time quantile_over_time rad rate resets
    round scalar sgn sin sinh sort sort_desc sqrt stddev_over_time stdvar_over_time
    sum_over_time tan tanh time timestamp vector year""".split()  # noqa: SIM905
)
_AGGREGATIONS = frozenset(
    "sum avg count min max group stddev stdvar topk bottomk quantile count_values".split()  # noqa: SIM905
)
_GROUPING = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right"})
_KEYWORDS = frozenset({"and", "or", "unless", "bool", "offset", "atan2", "inf", "nan"})
_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<comment>\#[^\n]*)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
  | (?P<range>\[[^\]]*\])
  | (?P<duration>(?:\d+(?:ms|[smhdwy]))+)
  | (?P<number>0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<ident>[a-zA-Z_:][a-zA-Z0-9_:]*)
  | (?P<op>=~|!~|!=|==|>=|<=|[-+*/%^=<>(){},@])
    """,
    re.VERBOSE,
)


@dataclass(frozen=True, slots=True)
class Matcher:
    """One label matcher inside `{...}`."""

    label: str
    op: str
    value: str


@dataclass(frozen=True, slots=True)
class SeriesRef:
    """A metric selector: the metric name and its matchers."""

    metric: str
    matchers: tuple[Matcher, ...]


@dataclass(slots=True)
class References:
    """Everything one expression refers to."""

    series: list[SeriesRef] = field(default_factory=list)
    grouping_labels: set[str] = field(default_factory=set)
    produced_labels: set[str] = field(default_factory=set)
    source_labels: set[str] = field(default_factory=set)

    @property
    def metrics(self) -> set[str]:
        return {s.metric for s in self.series}


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str
    text: str


def _unquote(text: str) -> str:
    if text[0] == "`":
        return text[1:-1]
    body = text[1:-1]
    return re.sub(r"\\(.)", r"\1", body)


def _tokens(expr: str) -> list[_Tok]:
    out: list[_Tok] = []
    pos = 0
    while pos < len(expr):
        m = _TOKEN.match(expr, pos)
        if m is None:
            raise ValueError(f"cannot tokenize PromQL at {expr[pos : pos + 20]!r}")
        pos = m.end()
        kind = m.lastgroup
        assert kind is not None
        if kind not in ("space", "comment"):
            out.append(_Tok(kind, m.group()))
    return out


def _matchers(toks: list[_Tok], i: int) -> tuple[tuple[Matcher, ...], int]:
    """Read `{l op "v", ...}` starting at the `{` at `i`; return matchers and the next index."""
    assert toks[i].text == "{"
    i += 1
    found: list[Matcher] = []
    while toks[i].text != "}":
        if toks[i].text == ",":
            i += 1
            continue
        label, op, value = toks[i], toks[i + 1], toks[i + 2]
        if label.kind != "ident" or op.kind != "op" or value.kind != "string":
            raise ValueError(f"unexpected matcher near {label.text!r}")
        found.append(Matcher(label.text, op.text, _unquote(value.text)))
        i += 3
    return tuple(found), i + 1


def _label_list(toks: list[_Tok], i: int) -> tuple[list[str], int]:
    """Read `(a, b)` starting at the `(` at `i`."""
    assert toks[i].text == "("
    i += 1
    names: list[str] = []
    while toks[i].text != ")":
        if toks[i].kind == "ident":
            names.append(toks[i].text)
        i += 1
    return names, i + 1


def _call_args(toks: list[_Tok], i: int) -> list[list[_Tok]]:
    """The top-level arguments of the call whose `(` is at `i`."""
    assert toks[i].text == "("
    depth = 1
    args: list[list[_Tok]] = []
    current: list[_Tok] = []
    for tok in toks[i + 1 :]:
        if tok.text in "({":
            depth += 1
        elif tok.text in ")}":
            depth -= 1
            if depth == 0:
                args.append(current)
                break
        elif tok.text == "," and depth == 1:
            args.append(current)
            current = []
            continue
        current.append(tok)
    return args


def references(expr: str) -> References:
    """The metric selectors, grouping labels and label_replace/label_join labels of `expr`."""
    toks = _tokens(expr)
    refs = References()
    i = 0
    while i < len(toks):
        tok = toks[i]
        nxt = toks[i + 1] if i + 1 < len(toks) else None
        if tok.kind == "ident" and tok.text in _GROUPING and nxt is not None and nxt.text == "(":
            names, i = _label_list(toks, i + 1)
            refs.grouping_labels.update(names)
            continue
        if tok.kind == "ident" and tok.text in ("label_replace", "label_join"):
            args = _call_args(toks, i + 1)
            strings = [_unquote(a[0].text) for a in args[1:] if a and a[0].kind == "string"]
            if strings:
                refs.produced_labels.add(strings[0])
            if tok.text == "label_replace" and len(strings) >= 3 and strings[2]:
                refs.source_labels.add(strings[2])
            if tok.text == "label_join":
                refs.source_labels.update(s for s in strings[2:] if s)
            i += 1
            continue
        if tok.kind == "ident" and (
            tok.text in _FUNCTIONS or tok.text in _AGGREGATIONS or tok.text in _KEYWORDS
        ):
            i += 1
            continue
        if tok.kind == "ident":
            matchers: tuple[Matcher, ...] = ()
            if nxt is not None and nxt.text == "{":
                matchers, i = _matchers(toks, i + 1)
            else:
                i += 1
            refs.series.append(SeriesRef(tok.text, matchers))
            continue
        if tok.text == "{":  # a selector with no metric name
            matchers, i = _matchers(toks, i)
            name = next((m.value for m in matchers if m.label == "__name__"), "")
            rest = tuple(m for m in matchers if m.label != "__name__")
            refs.series.append(SeriesRef(name, rest))
            continue
        i += 1
    return refs


def parse_series(text: str) -> tuple[str, dict[str, str]]:
    """`name{a="x",b="y"}` (promtool's input series notation) → (name, labels)."""
    toks = _tokens(text)
    if not toks or toks[0].kind != "ident":
        raise ValueError(f"not a series: {text!r}")
    if len(toks) == 1:
        return toks[0].text, {}
    matchers, end = _matchers(toks, 1)
    if end != len(toks) or any(m.op != "=" for m in matchers):
        raise ValueError(f"not a series: {text!r}")
    return toks[0].text, {m.label: m.value for m in matchers}
