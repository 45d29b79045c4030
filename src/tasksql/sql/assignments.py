"""Collecting ``KEY = value`` properties, session parameters, tags and contacts.

:class:`Assignments` is shared by ``CREATE TASK`` and ``ALTER TASK ... SET``: it reads one property
through the property table, and rejects a clause given twice (DUPLICATE_CLAUSE, at the second
one) or two that cannot go together (CONFLICTING_OPTIONS). An unknown ``KEY = literal`` is a
session parameter, unless the key is a near-miss of a known property (UNKNOWN_PROPERTY with a
suggestion).
"""

from __future__ import annotations

from typing import Any

from tasksql.errors import Span, ValidationError
from tasksql.sql.cursor import Cursor, conflicting, describe, duplicate
from tasksql.sql.properties import Property, conflicts_with, suggest
from tasksql.sql.schedule_values import ParsedSchedule
from tasksql.sql.session_params import refusal
from tasksql.sql.snowflake_params import value_error
from tasksql.sql.tokens import Token, TokenKind
from tasksql.sql.values import parse_literal


class Assignments:
    """The properties written so far in one statement, with their spans.

    ``values`` maps TaskDef fields to typed values (in the order written); ``spans`` maps each
    field to the span of its value; ``schedule`` keeps the parsed schedule for validation.
    """

    def __init__(self, cur: Cursor) -> None:
        self.cur = cur
        self.values: dict[str, Any] = {}
        self.spans: dict[str, Span] = {}
        self.keys: dict[str, Token] = {}
        self.field_tokens: dict[str, Token] = {}
        self.schedule: ParsedSchedule | None = None
        self.session_params: dict[str, str] = {}
        self.tags: dict[str, str] | None = None
        self.contacts: dict[str, str] | None = None

    # --- properties ------------------------------------------------------------------------------

    def read(self, prop: Property) -> None:
        """Read ``prop`` (its keywords come next) and record it."""
        cur = self.cur
        first = cur.next()
        cur.pos += len(prop.words) - 1
        has_equals = cur.accept("=") is not None
        if prop.evidence:
            cur.flags.add(prop.evidence)
        if prop.bare_evidence and not has_equals:
            cur.flags.add(prop.bare_evidence)
        value_first = cur.peek()
        if value_first is None:
            raise cur.error(
                f"expected a value for {prop.key}, found the end of the statement",
                expected=[f"<{prop.key.lower()}>"],
            )
        value = prop.parse(cur)
        value_span = cur.span_since(value_first)
        if isinstance(value, ParsedSchedule):
            self.schedule = value
            value = value.spec
        self._record(prop, first, value, value_span)

    def _record(self, prop: Property, first: Token, value: Any, value_span: Span) -> None:
        cur = self.cur
        label = " ".join(prop.words)
        if prop.key in self.keys:
            raise duplicate(cur, label, first)
        for other, only_if_different in conflicts_with(prop.key):
            if other not in self.keys:
                continue
            if only_if_different and self.values.get(prop.field) == value:
                self.keys[prop.key] = first
                return
            raise conflicting(cur, f"{label} cannot be used together with {other.replace('_', ' ')}", first)
        if prop.field in self.values:
            earlier = next(k for k, t in self.keys.items() if self.field_tokens.get(prop.field) is t)
            raise cur.error(
                f"{label} sets what {earlier.replace('_', ' ')} already set",
                at=first,
                code="DUPLICATE_CLAUSE",
                cls=ValidationError,
            )
        self.keys[prop.key] = first
        self.field_tokens[prop.field] = first
        self.values[prop.field] = value
        self.spans[prop.field] = value_span

    # --- session parameters ----------------------------------------------------------------------

    def read_session_param(self) -> None:
        """``KEY = literal`` for a key that is not a property (the cursor is at the key)."""
        cur = self.cur
        key_tok = cur.next()
        near = suggest(key_tok.text)
        if near is not None:
            raise cur.error(
                f"unknown property {key_tok.text.upper()}; did you mean {near}?",
                at=key_tok,
                expected=[near],
                code="UNKNOWN_PROPERTY",
                cls=ValidationError,
            )
        cur.expect("=")
        key = key_tok.text.lower()
        if key in self.session_params:
            raise duplicate(cur, f"session parameter {key.upper()}", key_tok)
        literal = parse_literal(cur, f"a value for {key.upper()}")
        why = refusal(key, literal)
        if why is not None:
            raise cur.error(
                why, at=cur.span_since(key_tok), code="UNSUPPORTED_PARAMETER", cls=ValidationError
            )
        bad = value_error(key, literal)
        if bad is not None:
            raise cur.error(bad, at=cur.span_since(key_tok), code="INVALID_VALUE", cls=ValidationError)
        self.session_params[key] = literal

    # --- tags and contacts -----------------------------------------------------------------------

    def read_tags(self, first: Token) -> None:
        """``TAG ( name = 'value' [, ...] )`` (the cursor is after TAG); without ``parens`` the
        parentheses may be left out (``ALTER TASK ... SET TAG a = 'x', b = 'y'``)."""
        if self.tags is not None:
            raise duplicate(self.cur, "TAG", first)
        self.tags = self._pairs("tag", parens=self.cur.at("("))

    def read_contacts(self, first: Token) -> None:
        """``CONTACT ( purpose = contact [, ...] )`` (the cursor is after CONTACT)."""
        if self.contacts is not None:
            raise duplicate(self.cur, "CONTACT", first)
        self.contacts = self._pairs("contact", parens=self.cur.at("("))

    def _pairs(self, what: str, *, parens: bool) -> dict[str, str]:
        cur = self.cur
        if parens:
            cur.expect("(")
        out: dict[str, str] = {}
        while True:
            key_tok = cur.peek()
            key = read_dotted_key(cur, what)
            if key in out:
                assert key_tok is not None
                raise duplicate(cur, f"{what} {key}", key_tok)
            cur.expect("=")
            out[key] = parse_literal(cur, f"a {what} value")
            if not cur.accept(","):
                break
        if parens:
            cur.expect(")")
        return out


def read_dotted_key(cur: Cursor, what: str) -> str:
    """A (possibly qualified) key such as a tag name, folded to lower case."""
    parts: list[str] = []
    while True:
        tok = cur.peek()
        if tok is None or tok.kind not in (TokenKind.WORD, TokenKind.IDENT):
            raise cur.error(f"expected a {what} name, found {describe(tok)}", at=tok, expected=[f"<{what}>"])
        cur.pos += 1
        parts.append(tok.text.lower())
        if not cur.accept("."):
            return ".".join(parts)
