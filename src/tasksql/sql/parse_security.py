"""Users, roles and privileges.

::

    CREATE [OR REPLACE] USER [IF NOT EXISTS] <name> [DEFAULT_ROLE = <role>] [DISABLED = TRUE | FALSE]
        [COMMENT = '..'] [PASSWORD = '..' (refused: tasksql users sign in with tokens)]
    ALTER USER [IF EXISTS] <name> SET <option> = <value> [...] | UNSET <option> [, ...] | RESET TOKEN
    DROP USER [IF EXISTS] <name>
    CREATE [OR REPLACE] ROLE [IF NOT EXISTS] <name> [COMMENT = '..']
    DROP ROLE [IF EXISTS] <name>
    GRANT ROLE <role> TO { ROLE | USER } <name>
    REVOKE ROLE <role> FROM { ROLE | USER } <name>
    GRANT <privilege> [, ...] ON { ACCOUNT | TASK <t> | WAREHOUSE <w> | DATABASE <d> | SCHEMA <s>
        | SECRET <s> } TO ROLE <role>
    REVOKE <privilege> [, ...] ON ... FROM ROLE <role>
    GRANT OWNERSHIP ON { TASK <t> | ALL TASKS IN SCHEMA <s> | SECRET <s> } TO ROLE <role>
        [{COPY | REVOKE} CURRENT GRANTS]
    USE ROLE <role>
    SHOW ROLES [LIKE '..']
    SHOW GRANTS [TO ROLE <r> | TO USER <u> | ON TASK <t> | OF ROLE <r>]

A ``GRANT`` or ``REVOKE`` is tasksql's when it is ``GRANT ROLE`` / ``GRANT OWNERSHIP``, names one
of tasksql's objects (``ON ACCOUNT``, ``ON TASK``, ``ON ALL TASKS``, ``ON WAREHOUSE``, ``ON SECRET``) or its
grantee as ``ROLE r`` / ``USER u``; any other (``GRANT SELECT ON TABLE t TO bob``) is the
warehouse's own and passes through. ``SHOW GRANTS FOR ...`` (MySQL) passes through too.
"""

from __future__ import annotations

from tasksql.model import QualifiedName
from tasksql.model.security import PRIVILEGES, GranteeKind, ObjectKind, canonical_role
from tasksql.sql.common import CreatePrefix, expect_end, parse_if_exists, parse_if_not_exists, reject_or_alter
from tasksql.sql.cursor import Cursor, duplicate
from tasksql.sql.names import parse_name, parse_simple_name
from tasksql.sql.statements import Statement
from tasksql.sql.statements_security import (
    AlterUser,
    CreateRole,
    CreateUser,
    DropRole,
    DropUser,
    GrantOwnership,
    GrantPrivilege,
    GrantRole,
    ShowGrants,
    ShowRoles,
    UseRole,
)
from tasksql.sql.tokens import Token, TokenKind
from tasksql.sql.values import parse_bool, parse_string

_USER_OPTIONS = ("DEFAULT_ROLE", "DISABLED", "COMMENT")
_OBJECT_WORDS = {kind.value: kind for kind in ObjectKind}
#: Every privilege word sequence, longest first (EXECUTE MANAGED TASK before EXECUTE TASK).
_PRIVILEGE_WORDS = sorted(
    {tuple(p.split()) for privileges in PRIVILEGES.values() for p in privileges} | {("OWNERSHIP",), ("ALL",)},
    key=lambda words: -len(words),
)


def role_name(cur: Cursor, what: str = "role name") -> str:
    """A role name (folded unless quoted; Ocient's "System Administrator" is SYSADMIN)."""
    name, _ = parse_simple_name(cur, what, fold=False)
    return canonical_role(name) if name.lower() == name or " " in name else name


def _user_name(cur: Cursor) -> str:
    return parse_simple_name(cur, "user name", fold=False)[0]


def _option_value(cur: Cursor, option: str) -> object:
    cur.expect("=")
    if option == "DISABLED":
        return parse_bool(cur)
    if option == "COMMENT":
        return parse_string(cur, "a comment in quotes")
    return role_name(cur)


def parse_create_user(cur: Cursor, prefix: CreatePrefix) -> Statement:
    reject_or_alter(cur, prefix, "users")
    if_not_exists = parse_if_not_exists(cur, prefix)
    name = _user_name(cur)
    values: dict[str, object] = {}
    while not cur.done:
        tok = cur.peek()
        assert tok is not None
        if cur.at_word("PASSWORD"):
            raise cur.error(
                "tasksql users have no password: CREATE USER prints the user's API token once, and "
                "ALTER USER ... RESET TOKEN makes a new one",
                at=tok,
                expected=list(_USER_OPTIONS),
            )
        if tok.kind is not TokenKind.WORD or tok.upper not in _USER_OPTIONS:
            raise cur.unexpected([*_USER_OPTIONS, "the end of the statement"])
        cur.pos += 1
        if tok.upper in values:
            raise duplicate(cur, tok.upper, tok)
        values[tok.upper] = _option_value(cur, tok.upper)
    default_role = values.get("DEFAULT_ROLE")
    comment = values.get("COMMENT")
    return CreateUser(
        span=cur.statement_span,
        text=cur.statement_text,
        name=name,
        default_role=default_role if isinstance(default_role, str) else None,
        disabled=values.get("DISABLED") is True,
        comment=comment if isinstance(comment, str) else None,
        or_replace=prefix.or_replace is not None,
        if_not_exists=if_not_exists,
    )


def parse_alter_user(cur: Cursor) -> Statement:
    if_exists = parse_if_exists(cur)
    name = _user_name(cur)
    changes: list[tuple[str, object]] = []
    reset = False
    if cur.accept("RESET", "TOKEN"):
        reset = True
    elif cur.accept_word("SET"):
        while not cur.done:
            tok = cur.peek()
            if tok is None or tok.kind is not TokenKind.WORD or tok.upper not in _USER_OPTIONS:
                raise cur.unexpected(list(_USER_OPTIONS))
            cur.pos += 1
            changes.append((tok.upper, _option_value(cur, tok.upper)))
            cur.accept(",")
        if not changes:
            raise cur.unexpected(list(_USER_OPTIONS))
    elif cur.accept_word("UNSET"):
        while True:
            tok = cur.peek()
            if tok is None or tok.kind is not TokenKind.WORD or tok.upper not in ("DEFAULT_ROLE", "COMMENT"):
                raise cur.unexpected(["DEFAULT_ROLE", "COMMENT"])
            cur.pos += 1
            changes.append((tok.upper, None))
            if not cur.accept(","):
                break
    else:
        raise cur.unexpected(["SET", "UNSET", "RESET TOKEN"])
    expect_end(cur)
    return AlterUser(
        span=cur.statement_span,
        text=cur.statement_text,
        name=name,
        if_exists=if_exists,
        changes=tuple(changes),
        reset_token=reset,
    )


def parse_drop_user(cur: Cursor) -> Statement:
    if_exists = parse_if_exists(cur)
    name = _user_name(cur)
    expect_end(cur)
    return DropUser(span=cur.statement_span, text=cur.statement_text, name=name, if_exists=if_exists)


def parse_create_role(cur: Cursor, prefix: CreatePrefix) -> Statement:
    reject_or_alter(cur, prefix, "roles")
    if_not_exists = parse_if_not_exists(cur, prefix)
    name = role_name(cur)
    comment = None
    if cur.accept("COMMENT"):
        cur.expect("=")
        comment = parse_string(cur, "a comment in quotes")
    expect_end(cur)
    return CreateRole(
        span=cur.statement_span,
        text=cur.statement_text,
        name=name,
        comment=comment,
        or_replace=prefix.or_replace is not None,
        if_not_exists=if_not_exists,
    )


def parse_drop_role(cur: Cursor) -> Statement:
    if_exists = parse_if_exists(cur)
    name = role_name(cur)
    expect_end(cur)
    return DropRole(span=cur.statement_span, text=cur.statement_text, name=name, if_exists=if_exists)


def parse_use_role(cur: Cursor) -> Statement:
    name = role_name(cur)
    expect_end(cur)
    return UseRole(span=cur.statement_span, text=cur.statement_text, role=name)


def parse_show_roles(cur: Cursor) -> Statement:
    like = None
    if cur.accept("LIKE"):
        like = parse_string(cur, "a pattern in quotes")
    expect_end(cur)
    return ShowRoles(span=cur.statement_span, text=cur.statement_text, like=like)


def parse_show_grants(cur: Cursor) -> Statement | None:
    if cur.at_word("FOR"):
        return None  # MySQL's SHOW GRANTS FOR user: the warehouse's
    kind: str | None = None
    name: QualifiedName | None = None
    if cur.accept("TO"):
        word = cur.accept_word("ROLE", "USER")
        if word is None:
            raise cur.unexpected(["ROLE", "USER"])
        kind = word.upper
        name = QualifiedName.of(role_name(cur) if kind == "ROLE" else _user_name(cur))
    elif cur.accept("ON", "TASK"):
        kind, name = "TASK", parse_name(cur)[0]
    elif cur.accept("OF", "ROLE"):
        kind, name = "OF", QualifiedName.of(role_name(cur))
    expect_end(cur, [] if kind else ["TO ROLE", "TO USER", "ON TASK", "OF ROLE"])
    return ShowGrants(span=cur.statement_span, text=cur.statement_text, to_kind=kind, name=name)


def _is_ours(cur: Cursor) -> bool:
    """Whether the GRANT / REVOKE after the cursor is tasksql's (see the module)."""
    if cur.at_word("ROLE", "OWNERSHIP"):
        return True
    toks = cur.tokens[cur.pos :]
    words = [t.upper if t.kind is TokenKind.WORD else "" for t in toks]
    for i, word in enumerate(words[:-1]):
        after = words[i + 1]
        if word == "ON" and after in ("ACCOUNT", "TASK", "ALL", "WAREHOUSE", "SECRET"):
            return after != "ALL" or words[i + 2 : i + 3] == ["TASKS"]
        if word in ("TO", "FROM") and after in ("ROLE", "USER"):
            return True
    return False


def parse_grant(cur: Cursor) -> Statement | None:
    """After ``GRANT``; None for the warehouse's own GRANT."""
    return _parse_grant(cur, revoke=False) if _is_ours(cur) else None


def parse_revoke(cur: Cursor) -> Statement | None:
    """After ``REVOKE``; None for the warehouse's own REVOKE."""
    return _parse_grant(cur, revoke=True) if _is_ours(cur) else None


def _grantee(cur: Cursor, revoke: bool, kinds: tuple[str, ...]) -> tuple[GranteeKind, str]:
    cur.expect("FROM" if revoke else "TO")
    word = cur.accept_word(*kinds)
    if word is None:
        raise cur.unexpected(list(kinds))
    kind = GranteeKind(word.upper)
    return kind, role_name(cur) if kind is GranteeKind.ROLE else _user_name(cur)


def _parse_grant(cur: Cursor, revoke: bool) -> Statement:
    if cur.accept_word("ROLE"):
        role = role_name(cur)
        grantee_kind, grantee = _grantee(cur, revoke, ("ROLE", "USER"))
        expect_end(cur)
        return GrantRole(
            span=cur.statement_span,
            text=cur.statement_text,
            role=role,
            grantee_kind=grantee_kind,
            grantee=grantee,
            revoke=revoke,
        )
    if cur.at_word("OWNERSHIP") and not revoke:
        return _parse_ownership(cur)
    privileges: list[tuple[str, Token]] = []
    while True:
        first = cur.peek()
        words = next((w for w in _PRIVILEGE_WORDS if cur.at(*w)), None)
        if words is None or first is None:
            raise cur.unexpected(["a privilege (EXECUTE TASK, USAGE, CREATE TASK, OPERATE, MONITOR, ...)"])
        cur.pos += len(words)
        if words == ("ALL",):
            cur.accept_word("PRIVILEGES")
        privileges.append((" ".join(words), first))
        if not cur.accept(","):
            break
    cur.expect("ON")
    kind_tok = cur.accept_word(*_OBJECT_WORDS)
    if kind_tok is None:
        raise cur.unexpected(list(_OBJECT_WORDS))
    kind = _OBJECT_WORDS[kind_tok.upper]
    obj: QualifiedName | None = None
    if kind is not ObjectKind.ACCOUNT:
        obj, span = parse_name(cur, f"{kind.value.lower()} name", reserved_ok=kind is not ObjectKind.TASK)
        most = {ObjectKind.TASK: 3, ObjectKind.SECRET: 3, ObjectKind.SCHEMA: 2}.get(kind, 1)
        if len(obj.parts) > most:
            raise cur.error(f"a {kind.value.lower()} name has at most {most} part(s)", at=span)
    allowed = PRIVILEGES[kind]
    names: list[str] = []
    for privilege, tok in privileges:
        if privilege == "ALL":
            names.extend(allowed)
            continue
        if privilege not in allowed:
            raise cur.error(
                f"{privilege} cannot be granted on {kind.value}; there: {', '.join(allowed)}"
                + (" (OWNERSHIP: GRANT OWNERSHIP ON TASK)" if privilege == "OWNERSHIP" else ""),
                at=tok,
                expected=list(allowed),
                code="INVALID_PRIVILEGE",
            )
        names.append(privilege)
    _, role = _grantee(cur, revoke, ("ROLE",))
    expect_end(cur)
    return GrantPrivilege(
        span=cur.statement_span,
        text=cur.statement_text,
        privileges=tuple(dict.fromkeys(names)),
        object_kind=kind,
        object_name=obj,
        role=role,
        revoke=revoke,
    )


def _parse_ownership(cur: Cursor) -> Statement:
    cur.expect("OWNERSHIP")
    cur.expect("ON")
    task: QualifiedName | None = None
    schema: QualifiedName | None = None
    secret: QualifiedName | None = None
    if cur.accept("ALL", "TASKS", "IN", "SCHEMA"):
        schema, span = parse_name(cur, "schema name")
        if len(schema.parts) > 2:
            raise cur.error("a schema name has at most 2 parts (database.schema)", at=span)
    elif cur.accept("TASK"):
        task = parse_name(cur)[0]
    elif cur.accept("SECRET"):
        secret = parse_name(cur, "secret name")[0]
    else:
        raise cur.unexpected(["TASK", "ALL TASKS IN SCHEMA", "SECRET"])
    _, role = _grantee(cur, False, ("ROLE",))
    if cur.accept_word("COPY", "REVOKE"):
        cur.expect("CURRENT", "GRANTS")
    expect_end(cur)
    return GrantOwnership(
        span=cur.statement_span, text=cur.statement_text, task=task, schema=schema, role=role, secret=secret
    )
