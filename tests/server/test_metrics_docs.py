"""docs/operations.md's metrics against a real server's /metrics: every metric its table lists and
every metric and label its alert rules use exists, with that type, and every metric the server
serves is in the table; names follow Prometheus' conventions."""

from __future__ import annotations

import re
from pathlib import Path

from api_support import Client
from prometheus_client.parser import text_string_to_metric_families

from tasksql.server.metrics import METRICS_KEY

DOCS = Path(__file__).resolve().parents[2] / "docs" / "operations.md"
#: Labels Prometheus adds itself (instance, job) or a histogram's bucket bound.
OWN_LABELS = {"instance", "job", "le"}


def metrics_section() -> str:
    text = DOCS.read_text()
    start = text.index("\n## Metrics")
    end = text.find("\n## ", start + 1)
    return text[start : end if end > 0 else len(text)]


def table_metrics(section: str) -> dict[str, tuple[str, set[str]]]:
    """name -> (type, labels) of the table's rows."""
    rows = {}
    for line in section.splitlines():
        m = re.match(r"\| `(tasksql_[a-z_]+)` \| (\w+) \|([^|]*)\|", line)
        if m:
            rows[m.group(1)] = (m.group(2), set(re.findall(r"`(\w+)`", m.group(3))))
    return rows


def rule_expressions(section: str) -> list[str]:
    """The ``expr`` of each alert rule of the YAML blocks (folded ``>`` expressions joined)."""
    exprs: list[str] = []
    lines = section.splitlines()
    for i, line in enumerate(lines):
        m = re.match(r"(\s*)expr:\s*(.*)$", line)
        if not m:
            continue
        indent, value = len(m.group(1)), m.group(2).strip()
        if value in (">", "|"):
            parts = []
            for more in lines[i + 1 :]:
                if len(more) - len(more.lstrip()) <= indent:
                    break
                parts.append(more.strip())
            value = " ".join(parts)
        exprs.append(value)
    return exprs


async def test_documented_metrics_and_alert_rules_match_the_server(client: Client) -> None:
    text = await (await client.get("/metrics")).text()
    served = {f.name: f.type for f in text_string_to_metric_families(text)}
    metrics = client.server.app[METRICS_KEY]
    # each metric's label names as declared (a labelled metric serves no sample before its first
    # use, so the exposition alone cannot tell them); prometheus_client keeps them in _labelnames
    labels = {c._name: set(c._labelnames) for c in metrics.registry._collector_to_names}
    section = metrics_section()
    table = table_metrics(section)
    assert len(table) >= 10, "the metrics table was not found"
    for name, (kind, documented_labels) in table.items():
        family = name.removesuffix("_total") if kind == "counter" else name
        assert served.get(family) == kind, f"{name}: documented as {kind}, served as {served.get(family)}"
        assert documented_labels == labels[family], f"{name}: labels {documented_labels} != {labels[family]}"
    for family, kind in served.items():
        if family.endswith("_created"):  # prometheus_client's creation time of a counter or histogram
            continue
        documented = family + "_total" if kind == "counter" else family
        assert documented in table, f"{documented} is served but not in docs/operations.md"
    exprs = rule_expressions(section)
    assert len(exprs) >= 4, "the alert rules were not found"
    for expr in exprs:
        names = re.findall(r"\btasksql_[a-z_]+", expr)
        assert names, expr
        for name in names:
            family = re.sub(r"_(total|bucket|sum|count)$", "", name)
            assert family in served, f"{name} (in {expr!r}) is not served"
            if name.endswith("_total"):
                assert served[family] == "counter", name
            if name.endswith("_bucket"):
                assert served[family] == "histogram", name
        used = set(re.findall(r"(\w+)\s*(?:=~|!=|=)\s*\"", expr))
        for group in re.findall(r"\bby\s*\(([^)]*)\)", expr):
            used |= {x.strip() for x in group.split(",") if x.strip()}
        known = set().union(*(labels[re.sub(r"_(total|bucket|sum|count)$", "", n)] for n in names))
        assert used - OWN_LABELS <= known, f"{expr!r} uses labels {used - OWN_LABELS - known} no metric has"


async def test_names_follow_prometheus_conventions(client: Client) -> None:
    text = await (await client.get("/metrics")).text()
    for family in text_string_to_metric_families(text):
        if not family.name.startswith("tasksql_"):
            continue
        assert re.fullmatch(r"tasksql_[a-z][a-z_]*[a-z]", family.name), family.name
        if family.type == "histogram":
            assert family.name.endswith("_seconds"), f"{family.name}: a histogram of seconds says so"
        if family.type == "counter":
            assert not family.name.endswith("_total")  # the parser strips it; the sample has it
            assert all(s.name.endswith(("_total", "_created")) for s in family.samples)
        for sample in family.samples:
            assert "run_id" not in sample.labels and "id" not in sample.labels  # bounded cardinality
