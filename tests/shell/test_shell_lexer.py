"""The words the shell knows (from the SQL front end's keyword lists) and syntax highlighting."""

from __future__ import annotations

import types

import pytest
from prompt_toolkit.document import Document

from tasksql.shell.keywords import shell_words, words_from_module
from tasksql.shell.lexer import COMMENT, FUNCTION, IDENTIFIER, KEYWORD, NUMBER, STRING, SqlLexer, fragments


def test_shell_words_come_from_the_sql_keywords_module() -> None:
    words = shell_words()
    for keyword in ("SELECT", "CREATE", "TASK", "SCHEDULE", "WAREHOUSE", "SUSPEND_TASK_AFTER_NUM_FAILURES"):
        assert words.is_keyword(keyword)
    for keyword in ("WHERE", "JOIN", "ORDER", "BY"):  # ordinary SQL, added by the shell
        assert words.is_keyword(keyword)
    for function in ("next_runs", "task_history", "SYSTEM$TASK_DEPENDENTS_ENABLE"):
        assert words.is_function(function)
        assert not words.is_keyword(function)


def test_shell_words_without_the_keywords_module() -> None:
    words = shell_words("tasksql.no_such_module")
    assert words.is_keyword("WHERE")
    assert not words.is_keyword("SCHEDULE")
    assert words.functions == frozenset()


def test_words_from_a_keywords_module() -> None:
    module = types.ModuleType("kw")
    module.STATEMENT_STARTERS = ("CREATE", "VACUUM")  # type: ignore[attr-defined]
    module.PROPERTIES = ("zeta_property",)  # type: ignore[attr-defined]
    module.UNITS = {"ms": 1, "s": 1000}  # type: ignore[attr-defined]
    module.CLAUSES = frozenset({"ORDER BY", "not a-word"})  # type: ignore[attr-defined]
    module.FUNCTIONS = ["my_function"]  # type: ignore[attr-defined]
    module.VERSION = "1"  # type: ignore[attr-defined]
    module._PRIVATE = ("HIDDEN",)  # type: ignore[attr-defined]
    module.MIXED = ("WORD", 3)  # type: ignore[attr-defined]
    words = words_from_module(module)
    assert words.keywords == {"CREATE", "VACUUM", "ZETA_PROPERTY", "ORDER", "BY", "NOT"}
    assert words.functions == {"my_function"}
    module.__all__ = ["FUNCTIONS", "PROPERTIES"]  # type: ignore[attr-defined]
    words = words_from_module(module)
    assert words.keywords == {"ZETA_PROPERTY"}
    assert words.functions == {"my_function"}


def test_shell_words_include_the_sql_keywords_module() -> None:
    from tasksql.sql import keywords

    found = words_from_module(keywords)
    merged = shell_words()
    assert found.keywords - found.function_keys <= merged.keywords
    assert found.functions == merged.functions


# --- highlighting --------------------------------------------------------------------------------

HIGHLIGHT_WORDS = shell_words()


@pytest.mark.parametrize(
    "text",
    [
        "SELECT next_runs('t', 3), 42, x -- note\n  FROM \"Quoted\";",
        "SELECT 'unterminated",
        "SELECT 1 /* open",
        "SELECT $$ body",
        "SELECT 1 \\ 2",
        "",
    ],
)
def test_fragments_cover_the_text_exactly(text: str) -> None:
    assert "".join(piece for _, piece in fragments(text, HIGHLIGHT_WORDS)) == text


def test_fragments_style_each_kind_of_token() -> None:
    text = "SELECT next_runs('t', 3), x -- note\nFROM \"Quoted\""
    styled = [(style, piece) for style, piece in fragments(text, HIGHLIGHT_WORDS) if piece.strip()]
    assert (KEYWORD, "SELECT") in styled
    assert (FUNCTION, "next_runs") in styled
    assert (STRING, "'t'") in styled
    assert (NUMBER, "3") in styled
    assert (IDENTIFIER, "x") in styled
    assert (COMMENT, "-- note") in styled
    assert (KEYWORD, "FROM") in styled
    assert (IDENTIFIER, '"Quoted"') in styled


def test_fragments_of_unfinished_input() -> None:
    assert fragments("SELECT 'abc", HIGHLIGHT_WORDS)[-1] == (STRING, "'abc")
    assert fragments("SELECT 1 /* open", HIGHLIGHT_WORDS)[-1] == (COMMENT, "/* open")
    assert fragments("SELECT $$ x;\n y", HIGHLIGHT_WORDS)[-1] == (STRING, "$$ x;\n y")


def test_lexer_returns_lines() -> None:
    lexer = SqlLexer(HIGHLIGHT_WORDS)
    get_line = lexer.lex_document(Document("SELECT 1\nFROM t -- c"))
    assert [piece for _, piece in get_line(0)] == ["SELECT", " ", "1"]
    assert [piece for _, piece in get_line(1)] == ["FROM", " ", "t", " ", "-- c"]
    assert get_line(5) == []
