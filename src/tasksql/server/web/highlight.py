"""SQL text as (class, text) pieces for highlighting, from tasksql's own tokenizer.

Every character of the text is in exactly one piece, in order, so joining the pieces gives the text
back; the template escapes each piece. Classes: ``kw`` (a keyword of tasksql's grammar or of
ordinary SQL), ``str``, ``num``, ``com`` (comment), ``id`` (quoted identifier), ``op`` and ``""``
(anything else: names, white space). Text the tokenizer cannot read (an unterminated string) is
one plain piece: highlighting never fails a page.
"""

from __future__ import annotations

from tasksql.errors import TasksqlError
from tasksql.sql import keywords
from tasksql.sql.tokenizer import tokenize
from tasksql.sql.tokens import TokenKind

_SQL_WORDS = """
ALL AND ANY ASC BETWEEN BY CASE CAST CROSS DEFAULT DELETE DESC DISTINCT ELSE EXCEPT FALSE FULL GROUP
HAVING INNER INSERT INTERSECT INTERVAL IS JOIN LEFT MERGE NATURAL NULL NULLS OFFSET ORDER OUTER OVER
PARTITION RIGHT SELECT THEN TO TRUE UNION UPDATE VALUES WHERE WINDOW
""".split()

KEYWORDS = frozenset(
    w.upper()
    for w in (
        *_SQL_WORDS,
        *keywords.STATEMENT_STARTERS,
        *keywords.CLAUSE_KEYWORDS,
        *keywords.PROPERTY_NAMES,
    )
)

_CLASSES = {
    TokenKind.STRING: "str",
    TokenKind.NUMBER: "num",
    TokenKind.COMMENT: "com",
    TokenKind.IDENT: "id",
    TokenKind.OPERATOR: "op",
}


def pieces(text: str) -> list[tuple[str, str]]:
    """``text`` cut into (class, text) pieces that cover it exactly (see the module)."""
    try:
        tokens = tokenize(text, comments=True)
    except TasksqlError:
        return [("", text)]
    out: list[tuple[str, str]] = []
    at = 0
    for tok in tokens:
        start, end = tok.span.start, tok.span.end
        if start < at or end > len(text):  # never trust a span to cover the text twice
            continue
        if start > at:
            out.append(("", text[at:start]))
        cls = _CLASSES.get(tok.kind, "")
        if tok.kind is TokenKind.WORD and tok.text.upper() in KEYWORDS:
            cls = "kw"
        out.append((cls, text[start:end]))
        at = end
    if at < len(text):
        out.append(("", text[at:]))
    return out
