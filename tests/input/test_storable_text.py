"""Text that cannot be stored and read back (NUL, lone surrogates) is refused where it comes in."""

from __future__ import annotations

import pytest

from tasksql.errors import ConfigError, TasksqlError, TasksqlSyntaxError
from tasksql.sql import parse, split, tokenize
from tasksql.storable import check_setting_text, first_unstorable


@pytest.mark.parametrize(
    ("text", "offset"),
    [
        ("plain", None),
        ("é ü 日本 😀 \t\n\x1b\x7f", None),  # control characters and pairs round-trip: accepted
        ("a\x00b", 1),
        ("é\ud800", 1),
        ("x\udfff", 1),
        ("😀\udc00", 1),
    ],
)
def test_first_unstorable(text: str, offset: int | None) -> None:
    assert first_unstorable(text) == offset


@pytest.mark.parametrize("entry", [parse, split, tokenize])
def test_sql_text_with_a_lone_surrogate_is_refused_with_its_position(entry: object) -> None:
    text = "CREATE TASK t SCHEDULE = '1 minute'\n  COMMENT = 'a\ud800' AS SELECT 1"
    with pytest.raises(TasksqlSyntaxError) as info:
        entry(text)  # type: ignore[operator]
    err = info.value
    assert err.code == "INVALID_CHARACTER"
    assert err.span is not None and (err.span.line, err.span.column) == (2, 15)
    assert "lone surrogate (U+D800)" in err.message
    err.render().encode("utf-8", "backslashreplace")  # renders without raising


def test_sql_text_with_nul_is_refused_and_says_how_to_write_one() -> None:
    with pytest.raises(TasksqlSyntaxError) as info:
        parse("SELECT 'a\x00b'")
    assert info.value.code == "INVALID_CHARACTER"
    assert info.value.span is not None and info.value.span.column == 10
    assert "chr(0)" in info.value.message


def test_valid_unicode_and_control_characters_parse() -> None:
    (stmt,) = parse("CREATE TASK t SCHEDULE = '1 minute' COMMENT = 'tab\there 😀 \x1b[31m' AS SELECT 1")
    assert stmt.definition.comment == "tab\there 😀 \x1b[31m"  # type: ignore[attr-defined]


def test_setting_text() -> None:
    check_setting_text("owner", "alice")
    with pytest.raises(ConfigError, match=r"setting owner holds a lone surrogate \(U\+DC80\) at character 3"):
        check_setting_text("owner", "al\udc80ce")


def test_settings_refuse_text_that_cannot_be_stored() -> None:
    from tasksql.settings import Settings

    with pytest.raises(ConfigError, match="setting owner holds a lone surrogate"):
        Settings.load(env={}, owner="al\udce9")  # an environment variable that was not UTF-8
    with pytest.raises(ConfigError, match="setting cluster_id holds a NUL character"):
        Settings.load(env={"TASKSQL_CLUSTER_ID": "a\x00b"})
    assert Settings.load(env={}, owner="Zoë").owner == "Zoë"


@pytest.mark.parametrize(("value", "named"), [(None, "NoneType"), (b"SELECT 1", "bytes"), (42, "int")])
def test_sql_text_that_is_not_a_str(value: object, named: str) -> None:
    with pytest.raises(TasksqlError, match=f"SQL text must be a str, not {named}") as info:
        parse(value)  # type: ignore[arg-type]
    assert info.value.code == "INVALID_ARGUMENT"
