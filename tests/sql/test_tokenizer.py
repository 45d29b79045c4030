"""The tokenizer: kinds, values, exact spans, comments, and errors for unterminated text."""

from __future__ import annotations

import pytest

from tasksql.errors import Span, TasksqlSyntaxError
from tasksql.sql import tokenize
from tasksql.sql.tokens import TokenKind


def kinds(text: str) -> list[tuple[str, str]]:
    return [(t.kind.name, t.text) for t in tokenize(text)]


def test_kinds_and_values() -> None:
    text = "SELECT \"Q\"\"x\", 'it''s', E'a\\'b', $$a;b$$, $t$x$y$t$, 1.5, a.b = 1;"
    assert kinds(text) == [
        ("WORD", "SELECT"),
        ("IDENT", 'Q"x'),
        ("COMMA", ","),
        ("STRING", "it's"),
        ("COMMA", ","),
        ("STRING", "a'b"),
        ("COMMA", ","),
        ("STRING", "a;b"),
        ("COMMA", ","),
        ("STRING", "x$y"),
        ("COMMA", ","),
        ("NUMBER", "1.5"),
        ("COMMA", ","),
        ("WORD", "a"),
        ("DOT", "."),
        ("WORD", "b"),
        ("EQ", "="),
        ("NUMBER", "1"),
        ("SEMICOLON", ";"),
    ]


def test_raw_keeps_the_source_text_and_quoted_is_set_for_strings_and_identifiers() -> None:
    tokens = tokenize("x 'it''s' \"Id\" $$b$$ 5.0")
    assert [t.raw for t in tokens] == ["x", "'it''s'", '"Id"', "$$b$$", "5.0"]
    assert [t.quoted for t in tokens] == [False, True, True, True, False]
    assert [t.dollar_quoted for t in tokens] == [False, False, False, True, False]


def test_spans_are_start_line_and_column_with_exclusive_end() -> None:
    text = "CREATE TASK t\n  SCHEDULE = '5 MINUTES'\nAS SELECT 1"
    tokens = tokenize(text)
    string = tokens[5]
    assert string.raw == "'5 MINUTES'"
    assert string.span == Span(line=2, column=14, start=27, end=38)
    assert text[string.start : string.end] == "'5 MINUTES'"
    for tok in tokens:
        assert text[tok.start : tok.end] == tok.raw
        line_start = text.rfind("\n", 0, tok.start) + 1
        assert tok.span.column == tok.start - line_start + 1
        assert tok.span.line == text.count("\n", 0, tok.start) + 1


def test_timeplus_intervals_are_a_number_and_a_word_side_by_side() -> None:
    tokens = tokenize("5s 2m 500ms 1h 1d")
    pairs = [
        (tokens[i].text, tokens[i + 1].text, tokens[i].end == tokens[i + 1].start) for i in range(0, 10, 2)
    ]
    assert pairs == [
        ("5", "s", True),
        ("2", "m", True),
        ("500", "ms", True),
        ("1", "h", True),
        ("1", "d", True),
    ]
    assert [t.kind for t in tokens[:2]] == [TokenKind.NUMBER, TokenKind.WORD]


def test_statement_words_are_not_swallowed_into_commands() -> None:
    assert kinds("EXECUTE TASK t; CALL p(1)")[:3] == [("WORD", "EXECUTE"), ("WORD", "TASK"), ("WORD", "t")]
    assert ("WORD", "p") in kinds("CALL p(1)")


def test_multi_word_keywords_become_one_token_per_word() -> None:
    tokens = tokenize("ORDER   BY x")
    assert [(t.text, t.span.column) for t in tokens] == [("ORDER", 1), ("BY", 9), ("x", 12)]


def test_comments_are_skipped_unless_asked_for() -> None:
    text = "a -- one ; two\n/* x /* nested ; */ y */ b"
    assert kinds(text) == [("WORD", "a"), ("WORD", "b")]
    with_comments = tokenize(text, comments=True)
    assert [(t.kind.name, t.raw) for t in with_comments] == [
        ("WORD", "a"),
        ("COMMENT", "-- one ; two"),
        ("COMMENT", "/* x /* nested ; */ y */"),
        ("WORD", "b"),
    ]
    for tok in with_comments:
        assert text[tok.start : tok.end] == tok.raw


def test_is_word_matches_case_insensitively_and_only_unquoted_words() -> None:
    word, ident, string = tokenize("task \"TASK\" 'TASK'")
    assert word.is_word("TASK")
    assert not ident.is_word("TASK")
    assert not string.is_word("TASK")


@pytest.mark.parametrize(
    ("text", "code", "column", "width"),
    [
        ("SELECT 'abc", "UNTERMINATED_STRING", 8, 1),
        ('SELECT "abc', "UNTERMINATED_STRING", 8, 1),
        ("SELECT E'abc", "UNTERMINATED_STRING", 8, 2),
        ("SELECT $$abc", "UNTERMINATED_STRING", 8, 2),
        ("SELECT $tag$ abc $other$", "UNTERMINATED_STRING", 8, 5),
        ("SELECT 1 /* a /* b */", "UNTERMINATED_COMMENT", 10, 2),
        ("SELECT 'it''s", "UNTERMINATED_STRING", 8, 1),
    ],
)
def test_unterminated_text_points_at_its_opening(text: str, code: str, column: int, width: int) -> None:
    with pytest.raises(TasksqlSyntaxError) as info:
        tokenize(text)
    err = info.value
    assert (err.code, err.line, err.column) == (code, 1, column)
    assert err.span is not None and err.span.end - err.span.start == width
    assert err.source == text


def test_unterminated_string_on_a_later_line() -> None:
    text = "SELECT 1;\nSELECT 2,\n  'open"
    with pytest.raises(TasksqlSyntaxError) as info:
        tokenize(text)
    assert (info.value.line, info.value.column) == (3, 3)
    assert "^" in info.value.render()
