"""Text derived from the source, with the source offset of every character.

A cron expression can be the inside of a string literal (``'USING CRON 0 9 * * * UTC'``) or a run
of unquoted tokens with their white space collapsed (VoltDB ``CRON 0 */5 * * * *``). Errors found
in such a text (by :func:`tasksql.schedules.check`) come with a span relative to the text;
:class:`Located` maps it back onto the statement.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from tasksql.errors import Span
from tasksql.sql.tokenizer import LineIndex
from tasksql.sql.tokens import Token


@dataclass(frozen=True, slots=True)
class Located:
    """``text`` with ``offsets[i]`` the source offset of ``text[i]`` and ``end`` the offset just
    past its last character."""

    text: str
    offsets: tuple[int, ...]
    end: int

    def span(self, index: LineIndex, start: int = 0, end: int | None = None) -> Span:
        """The source span of ``text[start:end]`` (clamped into the text)."""
        part = self.slice(start, end)
        first = part.offsets[0] if part.offsets else part.end
        return index.span(first, max(first, part.end))

    def slice(self, start: int, end: int | None = None) -> Located:
        size = len(self.text)
        stop = size if end is None else max(0, min(end, size))
        start = max(0, min(start, stop))
        if stop > start:
            tail = self.offsets[stop - 1] + 1
        elif start < size:
            tail = self.offsets[start]
        else:
            tail = self.end
        return Located(self.text[start:stop], self.offsets[start:stop], tail)

    def strip(self) -> Located:
        left = len(self.text) - len(self.text.lstrip())
        right = len(self.text.rstrip())
        return self.slice(left, max(left, right))

    def words(self) -> list[Located]:
        """The white-space separated words, each located."""
        return [self.slice(m.start(), m.end()) for m in re.finditer(r"\S+", self.text)]

    def collapse(self) -> Located:
        """Runs of white space collapsed to one space, ends stripped."""
        parts = self.words()
        text: list[str] = []
        offsets: list[int] = []
        for i, w in enumerate(parts):
            if i:
                text.append(" ")
                offsets.append(parts[i - 1].end)
            text.append(w.text)
            offsets.extend(w.offsets)
        end = parts[-1].end if parts else self.end
        return Located("".join(text), tuple(offsets), end)

    @staticmethod
    def join(parts: Sequence[Located], sep: str = " ") -> Located:
        text: list[str] = []
        offsets: list[int] = []
        for i, p in enumerate(parts):
            if i and sep:
                text.append(sep)
                offsets.extend([parts[i - 1].end] * len(sep))
            text.append(p.text)
            offsets.extend(p.offsets)
        end = parts[-1].end if parts else 0
        return Located("".join(text), tuple(offsets), end)


def string_contents(tok: Token) -> Located:
    """The value of a string token, located in the source.

    Exact when the value appears verbatim between the quotes (no escapes); otherwise every
    character is mapped onto the whole literal, which still points at the right place.
    """
    raw = tok.raw
    begin = raw.find("$", 1) + 1 if raw.startswith("$") else raw.find("'") + 1
    if begin > 0 and raw[begin : begin + len(tok.text)] == tok.text:
        base = tok.start + begin
        return Located(tok.text, tuple(range(base, base + len(tok.text))), base + len(tok.text))
    return Located(tok.text, (tok.start,) * len(tok.text), tok.end)


def tokens_text(tokens: Sequence[Token]) -> Located:
    """The tokens' source text with the white space (or comments) between them collapsed to one
    space; adjacent tokens stay adjacent (``*/5``, ``5#2``, ``MON-FRI``)."""
    text: list[str] = []
    offsets: list[int] = []
    for i, tok in enumerate(tokens):
        if i and tok.start > tokens[i - 1].end:
            text.append(" ")
            offsets.append(tokens[i - 1].end)
        text.append(tok.raw)
        offsets.extend(range(tok.start, tok.start + len(tok.raw)))
    end = tokens[-1].end if tokens else 0
    return Located("".join(text), tuple(offsets), end)
