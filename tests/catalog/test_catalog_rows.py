"""Stored definitions: every field round-trips; decoding is memoised by fingerprint, never keeping the
stored text alive."""

from __future__ import annotations

import sys

from catalog_support import task_def

from tasksql.catalog.rows import forget_definitions, parse_definition
from tasksql.model import (
    CatchUp,
    CronSchedule,
    DstPolicy,
    OnError,
    OverlapPolicy,
    QualifiedName,
    RunOn,
    SqlBody,
    TaskDef,
    task_from_json,
    task_to_json,
)


def _text(i: int) -> str:
    # built at run time, so the test holds the only other reference
    return task_to_json(task_def(f"memo_{i}", body=SqlBody(f"SELECT {i}")))


def test_a_text_is_decoded_once_and_the_same_value_is_shared() -> None:
    first = parse_definition(_text(1))
    again = parse_definition(_text(1))  # an equal text from another fetch
    assert again is first
    other = parse_definition(_text(2))
    assert other is not first and other.body == SqlBody("SELECT 2")
    assert first.body == SqlBody("SELECT 1") and str(first.name.name) == "memo_1"


def test_the_memo_does_not_keep_the_stored_text_alive() -> None:
    text = _text(3)
    before = sys.getrefcount(text)
    parse_definition(text)
    parse_definition(text)
    assert sys.getrefcount(text) == before


def test_every_kind_of_field_survives_the_stored_form() -> None:
    task = TaskDef(
        name=QualifiedName("child", "etl", "analytics"),
        body=SqlBody("INSERT INTO t SELECT 1"),
        schedule=CronSchedule("0 */5 * * * *", "Europe/Paris"),
        after=(QualifiedName("a", "etl", "analytics"), QualifiedName("b", "public", "tasksql")),
        when="SYSTEM$STREAM_HAS_DATA('s')",
        into=QualifiedName("target", None, None),
        warehouse="wh",
        timeout_ms=5_000,
        overlap_policy=OverlapPolicy.ALLOW_ALL_OVERLAP,
        retry_on=("40001", "57014"),
        retry_backoff=2.5,
        dst_policy=DstPolicy.SNOWFLAKE,
        catch_up=CatchUp.ALL,
        on_error=OnError.LOG,
        run_on=RunOn.HOSTS,
        tags=(("team", "'data'"),),
        session_params=(("timezone", "'UTC'"),),
    )
    back = task_from_json(task_to_json(task))
    assert back == task
    assert isinstance(back.overlap_policy, OverlapPolicy) and isinstance(back.after, tuple)
    # shared parts of names are shared strings (many tasks, one copy)
    other = task_from_json(task_to_json(task))
    assert other.name.database is back.name.database and other.name.schema is back.name.schema


def test_forgetting_the_memo_decodes_again() -> None:
    first = parse_definition(_text(4))
    forget_definitions()
    again = parse_definition(_text(4))
    assert again == first and again is not first


def test_repeated_texts_of_many_tasks_are_shared() -> None:
    one = task_from_json(task_to_json(task_def("t1", warehouse="etl_pool")))
    two = task_from_json(task_to_json(task_def("t2", warehouse="etl_pool")))
    assert one.warehouse == "etl_pool" and one.warehouse is two.warehouse
