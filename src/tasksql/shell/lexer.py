"""Syntax highlighting for the shell, over the tokenizer of the SQL front end.

:func:`fragments` is pure: it cuts the text into ``(style class, text)`` pairs that cover it
exactly, so the highlighted buffer always shows what was typed. Text that does not tokenize yet
(an unterminated string or comment while it is being typed) is highlighted up to the unfinished
construct, and the rest in the style of that construct.
"""

from __future__ import annotations

from collections.abc import Callable

from prompt_toolkit.document import Document
from prompt_toolkit.formatted_text import StyleAndTextTuples
from prompt_toolkit.formatted_text.utils import split_lines
from prompt_toolkit.lexers import Lexer
from prompt_toolkit.styles import Style

from tasksql.errors import TasksqlSyntaxError
from tasksql.shell.keywords import ShellWords
from tasksql.sql.tokenizer import tokenize
from tasksql.sql.tokens import Token, TokenKind

KEYWORD = "class:keyword"
FUNCTION = "class:function"
IDENTIFIER = "class:identifier"
STRING = "class:string"
NUMBER = "class:number"
COMMENT = "class:comment"
OPERATOR = "class:operator"
PLAIN = ""

STYLE = Style.from_dict(
    {
        "keyword": "bold ansiblue",
        "function": "ansicyan",
        "identifier": "",
        "string": "ansigreen",
        "number": "ansimagenta",
        "comment": "italic ansibrightblack",
        "operator": "",
        "prompt": "bold",
        "continuation": "ansibrightblack",
    }
)


def _style_of(token: Token, words: ShellWords) -> str:
    kind = token.kind
    if kind is TokenKind.COMMENT:
        return COMMENT
    if kind is TokenKind.STRING:
        return STRING
    if kind is TokenKind.NUMBER:
        return NUMBER
    if kind is TokenKind.IDENT:
        return IDENTIFIER
    if kind is TokenKind.WORD:
        if words.is_function(token.text):
            return FUNCTION
        return KEYWORD if words.is_keyword(token.text) else IDENTIFIER
    return OPERATOR


_UNFINISHED = frozenset({"UNTERMINATED_STRING", "UNTERMINATED_COMMENT"})


def _rest_style(text: str, code: str) -> str:
    """The style of the text from where tokenizing failed with ``code`` to the end."""
    if code not in _UNFINISHED:
        return PLAIN
    return COMMENT if text.startswith(("/*", "--")) else STRING


def fragments(text: str, words: ShellWords) -> list[tuple[str, str]]:
    """``(style class, text)`` pairs whose texts concatenate to ``text``. Never raises."""
    try:
        tokens = tokenize(text, comments=True)
    except TasksqlSyntaxError as err:
        cut = err.span.start if err.span is not None else 0
        if cut <= 0 or cut >= len(text):
            return [(_rest_style(text, err.code), text)] if text else []
        return [*fragments(text[:cut], words), (_rest_style(text[cut:], err.code), text[cut:])]
    out: list[tuple[str, str]] = []
    pos = 0
    for token in tokens:
        if token.start < pos:  # never expected; keep the cover exact rather than duplicate text
            continue
        if token.start > pos:
            out.append((PLAIN, text[pos : token.start]))
        out.append((_style_of(token, words), text[token.start : token.end]))
        pos = token.end
    if pos < len(text):
        out.append((PLAIN, text[pos:]))
    return out


class SqlLexer(Lexer):
    """A prompt_toolkit lexer that highlights keywords, functions, identifiers, strings, numbers and
    comments in distinct styles (see :data:`STYLE`)."""

    def __init__(self, words: ShellWords) -> None:
        self.words = words

    def lex_document(self, document: Document) -> Callable[[int], StyleAndTextTuples]:
        pieces: StyleAndTextTuples = list(fragments(document.text, self.words))
        lines = [[f for f in line if f[1]] for line in split_lines(pieces)]

        def get_line(lineno: int) -> StyleAndTextTuples:
            return lines[lineno] if 0 <= lineno < len(lines) else []

        return get_line
