"""``ALTER TASK [IF EXISTS] <name> <action>``.

Actions: RESUME | SUSPEND | ENABLE | DISABLE | SET <property> = <value> [, ...] | SET TAG ... |
SET CONTACT ... | SET FINALIZE = <root> | UNSET <property> [, ...] | UNSET TAG (...) | UNSET FINALIZE |
ADD AFTER <task> [, ...] | REMOVE AFTER <task> [, ...] | MODIFY AS <sql> | MODIFY WHEN <condition> |
REMOVE WHEN | ALTER ON ERROR STOP | LOG | IGNORE.
"""

from __future__ import annotations

from tasksql.errors import Span, ValidationError
from tasksql.model import OnError, QualifiedName
from tasksql.sql.assignments import Assignments, read_dotted_key
from tasksql.sql.bodies import parse_sql_body
from tasksql.sql.common import expect_end, parse_if_exists
from tasksql.sql.cursor import Cursor, conflicting, describe, duplicate
from tasksql.sql.names import parse_name, parse_name_list
from tasksql.sql.properties import match_property, suggest, unset_property
from tasksql.sql.schedule_values import check_schedule
from tasksql.sql.statements import (
    AddAfter,
    AlterAction,
    AlterOnError,
    AlterTask,
    ModifyAs,
    ModifyWhen,
    RemoveAfter,
    RemoveWhen,
    Resume,
    SetFinalize,
    SetProperties,
    Statement,
    Suspend,
    UnsetFinalize,
    UnsetProperties,
)
from tasksql.sql.tokens import Token, TokenKind
from tasksql.sql.values import parse_choice

ALTER_ACTIONS = (
    "RESUME",
    "SUSPEND",
    "SET",
    "UNSET",
    "ADD AFTER",
    "REMOVE AFTER",
    "MODIFY AS",
    "MODIFY WHEN",
    "REMOVE WHEN",
    "ENABLE",
    "DISABLE",
    "ALTER ON ERROR",
)

#: Clauses that are not properties, and the ALTER action that changes them instead.
_NOT_SETTABLE = {
    "AFTER": "ADD AFTER / REMOVE AFTER",
    "WHEN": "MODIFY WHEN / REMOVE WHEN",
    "AS": "MODIFY AS",
    "ON ERROR": "ALTER ON ERROR",
    "ON_ERROR": "ALTER ON ERROR",
}


def parse_alter_task(cur: Cursor) -> Statement:
    """After ``ALTER TASK``."""
    if_exists = parse_if_exists(cur)
    name, name_span = parse_name(cur)
    spans: dict[str, Span] = {"name": name_span}
    action = _action(cur, name, spans)
    expect_end(cur)
    return AlterTask(
        span=cur.statement_span,
        text=cur.statement_text,
        spans=spans,
        name=name,
        action=action,
        if_exists=if_exists,
    )


def _action(cur: Cursor, name: QualifiedName, spans: dict[str, Span]) -> AlterAction:
    if cur.accept_word("RESUME"):
        return Resume()
    if cur.accept_word("SUSPEND"):
        return Suspend()
    if cur.accept_word("ENABLE"):
        return Resume(spelling="ENABLE")
    if cur.accept_word("DISABLE"):
        return Suspend(spelling="DISABLE")
    if cur.accept_word("SET"):
        return _set(cur, name, spans)
    if cur.accept_word("UNSET"):
        return _unset(cur)
    if cur.accept("ADD", "AFTER") or cur.accept("REMOVE", "AFTER"):
        adding = cur.tokens[cur.pos - 2].is_word("ADD")
        names = _after_names(cur, name, spans, check_self=adding)
        return AddAfter(names=names) if adding else RemoveAfter(names=names)
    if cur.accept("REMOVE", "WHEN"):
        return RemoveWhen()
    if cur.accept("MODIFY", "AS"):
        body, spans["body"] = parse_sql_body(cur, cur.previous())
        return ModifyAs(body=body)
    if cur.accept("MODIFY", "WHEN"):
        if cur.done:
            raise cur.error("expected a condition after MODIFY WHEN", expected=["<condition>"])
        first, last = cur.take_rest()
        spans["when"] = cur.span_of(first, last)
        return ModifyWhen(condition=cur.text_of(first, last).strip())
    if cur.accept("ALTER", "ON", "ERROR"):
        choices = tuple(p.value for p in OnError)
        return AlterOnError(policy=OnError(parse_choice(cur, "ON ERROR", choices)))
    raise cur.unexpected(ALTER_ACTIONS, "in ALTER TASK")


def _after_names(
    cur: Cursor, name: QualifiedName, spans: dict[str, Span], *, check_self: bool
) -> tuple[QualifiedName, ...]:
    out: list[QualifiedName] = []
    for i, (pred, span) in enumerate(parse_name_list(cur, "predecessor task name")):
        if pred in out:
            raise duplicate(cur, f"predecessor {pred}", span)
        if check_self and pred == name:
            raise cur.error(
                f"task {name} cannot run after itself", at=span, code="SELF_DEPENDENCY", cls=ValidationError
            )
        spans[f"after.{i}"] = span
        out.append(pred)
    return tuple(out)


def _set(cur: Cursor, name: QualifiedName, spans: dict[str, Span]) -> AlterAction:
    if cur.at("FINALIZE", "="):
        fin_tok = cur.next()
        cur.pos += 1
        root, spans["finalize"] = parse_name(cur, "root task name")
        if not cur.done:
            raise conflicting(
                cur, "SET FINALIZE must be the only change in its ALTER TASK", cur.peek() or fin_tok
            )
        if root == name:
            raise cur.error(
                f"task {name} cannot be its own finalizer",
                at=spans["finalize"],
                code="SELF_DEPENDENCY",
                cls=ValidationError,
            )
        return SetFinalize(root=root)
    props = Assignments(cur)
    while not cur.done:
        _set_one(cur, props)
    if not (props.values or props.session_params or props.tags or props.contacts):
        raise cur.error("expected a property to SET", at=cur.peek(), expected=["<property> = <value>"])
    if props.schedule is not None:
        check_schedule(cur, props.schedule, props.values.get("dst_policy"))
    spans.update(props.spans)
    return SetProperties(
        assignments=tuple(props.values.items()),
        session_params=tuple(props.session_params.items()),
        tags=tuple((props.tags or {}).items()),
        contacts=tuple((props.contacts or {}).items()),
    )


def _set_one(cur: Cursor, props: Assignments) -> None:
    tok = cur.peek()
    assert tok is not None
    if tok.kind is TokenKind.COMMA:
        cur.pos += 1
        return
    if tok.is_word("TAG"):
        cur.pos += 1
        props.read_tags(tok)
        return
    if tok.is_word("CONTACT"):
        cur.pos += 1
        props.read_contacts(tok)
        return
    if cur.at("FINALIZE", "="):
        raise conflicting(cur, "SET FINALIZE must be the only change in its ALTER TASK", tok)
    _reject_not_settable(cur, tok)
    prop = match_property(cur)
    if prop is not None:
        if not prop.in_set:
            raise cur.error(
                f"{' '.join(prop.words)} cannot be changed with SET",
                at=tok,
                expected=["<property> = <value>"],
            )
        props.read(prop)
    elif tok.kind is TokenKind.WORD and cur.at_kind(TokenKind.WORD) and _eq_follows(cur):
        props.read_session_param()
    elif tok.kind is TokenKind.WORD and unset_property(tok.upper) is not None:
        after = cur.peek(1)
        raise cur.error(
            f"expected = <value> after {tok.upper}, found {describe(after)}",
            at=after if after is not None else cur.end_span(),
            expected=["="],
        )
    else:
        raise cur.unexpected(["<property> = <value>", "TAG", "CONTACT"], "in ALTER TASK ... SET")


def _eq_follows(cur: Cursor) -> bool:
    tok = cur.peek(1)
    return tok is not None and tok.kind is TokenKind.EQ


def _reject_not_settable(cur: Cursor, tok: Token) -> None:
    word = tok.upper if tok.kind is TokenKind.WORD else ""
    if word == "ON" and cur.at("ON", "ERROR"):
        word = "ON ERROR"
    if word == "AS" and cur.at("AS", "USER"):
        return
    instead = _NOT_SETTABLE.get(word)
    if instead is not None:
        raise cur.error(
            f"{word} is not a property; use ALTER TASK ... {instead}",
            at=tok,
            expected=["<property> = <value>"],
        )


def _unset(cur: Cursor) -> AlterAction:
    if cur.at("FINALIZE") and cur.peek(1) is None:
        cur.pos += 1
        return UnsetFinalize()
    fields: list[str] = []
    params: list[str] = []
    tags: list[str] = []
    contacts: list[str] = []
    seen: dict[str, Token] = {}
    while True:
        tok = cur.peek()
        if tok is not None and tok.is_word("TAG"):
            cur.pos += 1
            _unset_tags(cur, tags)
        elif tok is not None and tok.is_word("CONTACT"):
            cur.pos += 1  # Snowflake's UNSET CONTACT <purpose> [, ...]
            _unset_tags(cur, contacts, "contact purpose")
        elif tok is not None and (cur.at("ON", "ERROR") or cur.at("RUN", "ON") or cur.at("AS", "USER")):
            _not_unsettable(cur, tok)
        elif tok is not None and cur.at("EXECUTE", "AS", "USER"):
            cur.pos += 3  # Snowflake's UNSET EXECUTE AS USER: the task runs as its owner again
            if "EXECUTE_AS_USER" in seen:
                raise duplicate(cur, "EXECUTE AS USER", tok)
            seen["EXECUTE_AS_USER"] = tok
            if "run_as_user" not in fields:
                fields.append("run_as_user")
        elif tok is not None and tok.kind is TokenKind.WORD:
            cur.pos += 1
            key = tok.upper
            if key in seen:
                raise duplicate(cur, key, tok)
            seen[key] = tok
            _unset_name(cur, tok, fields, params)
        else:
            raise cur.error(
                f"expected a property to UNSET, found {describe(tok)}", at=tok, expected=["<property>", "TAG"]
            )
        if not cur.accept(","):
            return UnsetProperties(
                fields=tuple(fields), session_params=tuple(params), tags=tuple(tags), contacts=tuple(contacts)
            )


def _unset_name(cur: Cursor, tok: Token, fields: list[str], params: list[str]) -> None:
    key = tok.upper
    if key == "FINALIZE":
        raise conflicting(cur, "UNSET FINALIZE must be the only change in its ALTER TASK", tok)
    prop = unset_property(key)
    if prop is not None:
        if not prop.in_unset:
            raise cur.error(f"{key} cannot be unset", at=tok, expected=["<property>"])
        if prop.field not in fields:
            fields.append(prop.field)
        return
    instead = _NOT_SETTABLE.get(key)
    if instead is not None:
        raise cur.error(
            f"{key} is not a property; use ALTER TASK ... {instead}", at=tok, expected=["<property>"]
        )
    near = suggest(key)
    if near is not None:
        raise cur.error(
            f"unknown property {key}; did you mean {near}?",
            at=tok,
            expected=[near],
            code="UNKNOWN_PROPERTY",
            cls=ValidationError,
        )
    params.append(tok.text.lower())


def _not_unsettable(cur: Cursor, tok: Token) -> None:
    """UNSET of ON ERROR, RUN ON or AS USER: clauses with no "not set" state of their own."""
    second = cur.peek(1)
    words = f"{tok.upper} {second.upper if second is not None else ''}".strip()
    instead = {
        "ON ERROR": "ALTER TASK ... ALTER ON ERROR { STOP | LOG | IGNORE } to change it",
        "RUN ON": "ALTER TASK ... SET RUN ON DATABASE (the default) to change it",
        "AS USER": "ALTER TASK ... UNSET EXECUTE AS USER to run as the task's owner again",
    }[words]
    raise cur.error(f"{words} cannot be unset; use {instead}", at=tok, expected=["<property>"])


def _unset_tags(cur: Cursor, tags: list[str], what: str = "tag") -> None:
    parens = cur.accept("(") is not None
    while True:
        key_tok = cur.peek()
        key = read_dotted_key(cur, what)
        if key in tags:
            assert key_tok is not None
            raise duplicate(cur, f"{what} {key}", key_tok)
        tags.append(key)
        if not cur.at(","):
            break
        if not parens and not _tag_follows(cur):
            break
        cur.pos += 1
    if parens:
        cur.expect(")")


def _tag_follows(cur: Cursor) -> bool:
    """Without parentheses, a comma is followed by another tag unless a property name comes next."""
    nxt = cur.peek(1)
    return (
        nxt is not None and nxt.kind in (TokenKind.WORD, TokenKind.IDENT) and unset_property(nxt.text) is None
    )
