"""The small PromQL reference reader used by the series contract."""

from __future__ import annotations

import pytest

from monitoring import promql


def test_reads_metrics_matchers_and_grouping() -> None:
    refs = promql.references(
        'histogram_quantile(0.95, sum by (le, phase) (rate(m_bucket{phase!="x"}[5m])))'
        " / on (phase) group_left (extra) other offset 5m"
    )
    assert refs.metrics == {"m_bucket", "other"}
    assert refs.series[0].matchers == (promql.Matcher("phase", "!=", "x"),)
    assert refs.grouping_labels == {"le", "phase", "extra"}


def test_functions_keywords_and_durations_are_not_metrics() -> None:
    refs = promql.references(
        "absent(up == 1) and on() count(x) > bool 0 or vector(0) unless time() - y @ 100"
    )
    assert refs.metrics == {"up", "x", "y"}


def test_label_replace_produces_and_reads_labels() -> None:
    refs = promql.references('label_replace(m{a="1"}, "dst", "$1", "src", "(.*)")')
    assert refs.metrics == {"m"}
    assert refs.produced_labels == {"dst"}
    assert refs.source_labels == {"src"}


def test_strings_and_comments_are_skipped() -> None:
    refs = promql.references('m{a="not_a_metric"}  # comment_word\n+ n')
    assert refs.metrics == {"m", "n"}


def test_parse_series() -> None:
    assert promql.parse_series('m{a="1",b="x y"}') == ("m", {"a": "1", "b": "x y"})
    assert promql.parse_series("m") == ("m", {})
    with pytest.raises(ValueError, match="not a series"):
        promql.parse_series('m{a=~"1"}')
