"""The cheap test before binding a body's statements to streams: which statements may read one."""

from __future__ import annotations

import pytest

from tasksql.warehouses.streams import _MAY_READ, _may_read


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM s",
        "insert into t select x from s",
        "INSERT INTO t SELECT a.x FROM a Join b USING (k)",
        "SELECT SYSTEM$STREAM_HAS_DATA('s')",
        "select stream_status('s')",
        "SELECT 'é' FROM s",  # not ASCII: searched as before
        "SELECT 1 u\u017fing",  # a long s: the pattern's case folding takes it for USING
    ],
)
def test_statements_that_may_read(sql: str) -> None:
    assert _may_read(sql)


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO t VALUES (1, 'x')",
        "INSERT INTO t VALUES ('fromage', 'joins', 'stream_x')",
        "UPDATE t SET from_date = 1",
        "INSERT INTO t VALUES ('é')",
    ],
)
def test_statements_that_cannot(sql: str) -> None:
    assert not _may_read(sql)


def test_the_same_answer_as_the_pattern() -> None:
    words = ["from", "FROM", "Join", "USING", "stream_has_data", "STREAM_STATUS", "fromage", "xfrom"]
    words += [
        "joins",
        "u\u017fing",
        "jo\u0131n",
        "select",
        "_from",
        "from_",
        "é from",
        "(",
        ")",
        "'x'",
        "-- c\n",
    ]
    texts = [" ".join(words[(i * 7 + j * 3) % len(words)] for j in range(i % 5)) for i in range(400)]
    for text in texts:
        assert _may_read(text) == (_MAY_READ.search(text) is not None), text
