"""Meta-commands: parsing, validation, and the help that lists every one of them."""

from __future__ import annotations

import pytest

from tasksql.errors import ConfigError
from tasksql.shell.meta import COMMANDS, MetaKind, help_text, parse_meta


@pytest.mark.parametrize(
    ("text", "kind", "args"),
    [
        ("\\q", MetaKind.QUIT, ()),
        ("\\quit", MetaKind.QUIT, ()),
        (".exit", MetaKind.QUIT, ()),
        ("  \\q;  ", MetaKind.QUIT, ()),
        ("\\?", MetaKind.HELP, ()),
        ("\\h", MetaKind.HELP, ()),
        (".help", MetaKind.HELP, ()),
        ("\\t", MetaKind.TASKS, ()),
        ("\\d", MetaKind.DESCRIBE, ()),
        ("\\d events", MetaKind.DESCRIBE, ("events",)),
        ('\\d "My Table"', MetaKind.DESCRIBE, ("My Table",)),
        ("\\dt", MetaKind.TABLES, ()),
        ("\\dt ev*", MetaKind.TABLES, ("ev*",)),
        (".tables", MetaKind.TABLES, ()),
        (".schema", MetaKind.SCHEMA, ()),
        (".schema events;", MetaKind.SCHEMA, ("events",)),
        ("\\f csv", MetaKind.FORMAT, ("csv",)),
        ("\\F JSON", MetaKind.FORMAT, ("JSON",)),
        ("\\x", MetaKind.EXPANDED, ()),
        ("\\x auto", MetaKind.EXPANDED, ("auto",)),
        ("\\timing on", MetaKind.TIMING, ("on",)),
        ("\\pset pager off", MetaKind.PSET, ("pager", "off")),
        ("\\o out.txt", MetaKind.OUTPUT, ("out.txt",)),
        ("\\o 'my results.txt'", MetaKind.OUTPUT, ("my results.txt",)),
        ("\\o", MetaKind.OUTPUT, ()),
        ("\\i setup.sql", MetaKind.INCLUDE, ("setup.sql",)),
        (".read setup.sql", MetaKind.INCLUDE, ("setup.sql",)),
        ("\\e", MetaKind.EDIT, ()),
        ("\\watch", MetaKind.WATCH, ()),
        ("\\watch 0.5 c=3", MetaKind.WATCH, ("0.5", "c=3")),
    ],
)
def test_parse_meta(text: str, kind: MetaKind, args: tuple[str, ...]) -> None:
    meta = parse_meta(text)
    assert meta.kind is kind
    assert meta.args == args


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("\\nope", "UNKNOWN_COMMAND"),
        ("\\", "UNKNOWN_COMMAND"),
        (".nope", "UNKNOWN_COMMAND"),
        ("\\f xml", "INVALID_ARGUMENT"),
        ("\\f csv json", "INVALID_ARGUMENT"),
        ("\\q now", "INVALID_ARGUMENT"),
        ("\\x sideways", "INVALID_ARGUMENT"),
        ("\\i", "INVALID_ARGUMENT"),
        ("\\pset border 2", "INVALID_ARGUMENT"),
        ("\\o 'unbalanced", "INVALID_ARGUMENT"),
    ],
)
def test_parse_meta_rejects(text: str, code: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_meta(text)
    assert info.value.code == code
    assert "\n" not in info.value.message


def test_help_lists_every_command_and_key() -> None:
    text = help_text()
    for spec in COMMANDS:
        assert spec.usage in text
        for name in spec.names:
            assert name in text
    for key in ("Ctrl-D", "Ctrl-C", "Alt-Enter", "Tab"):
        assert key in text
