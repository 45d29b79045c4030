"""Find tasksql's virtual relations and functions inside ordinary SQL, and splice replacements in.

Users query tasksql's state from any statement, joined with their own tables::

    SELECT * FROM next_runs('t', 5)
    SELECT name, state FROM task_history(result_limit => 10) ORDER BY scheduled_time DESC
    SELECT * FROM TABLE(INFORMATION_SCHEMA.TASK_HISTORY(TASK_NAME => 'T'))
    INSERT INTO node_states SELECT cluster_id, node_id, node_state FROM system.cluster
    SELECT SYSTEM$TASK_DEPENDENTS_ENABLE('root')
    CALL SYSTEM$SET_RETURN_VALUE('done')          -- a whole CALL becomes SELECT <value>

The warehouse knows none of these names (and in DuckDB ``system`` is a built-in catalog, so
``system.cluster`` cannot simply be created). :func:`find_refs` locates each reference by tokens and
:meth:`Rewritten.render` splices a replacement into the *original* text, so everything else the user
wrote reaches the warehouse byte for byte. The caller materialises each relation (an Arrow table
registered under the replacement name) or evaluates each scalar function (a SQL literal).
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from sqlglot.errors import TokenError
from sqlglot.tokenizer_core import Token, TokenType

from tasksql.errors import Span, TasksqlError, ValidationError
from tasksql.sql import scan
from tasksql.sql.tokenizer import raw_tokens

#: ``system.<name>`` relations.
SYSTEM_TABLES = frozenset(
    {
        "tasks",
        "task_history",
        "task_versions",
        "cluster",
        "warehouses",
        "notification_integrations",
        "notifications",
        "notification_history",
        "graph_runs",
        "subtasks",
        "storage_checks",
        "audit_log",
    }
)
#: Table functions, callable bare, as ``information_schema.<fn>(...)`` or wrapped in ``TABLE(...)``.
TABLE_FUNCTIONS = frozenset(
    {
        "next_runs",
        "task_history",
        "complete_task_graphs",
        "current_task_graphs",
        "task_dependents",
        "notification_history",
    }
)
#: Snowflake's ``SNOWFLAKE.ACCOUNT_USAGE`` views of tasks -> the system tables with those rows.
ACCOUNT_USAGE_VIEWS = {
    "task_history": "task_history",
    "task_versions": "task_versions",
    "complete_task_graphs": "graph_runs",
}
#: Scalar functions evaluated by tasksql before the statement runs.
#: ``task_dependents_enable`` is Databend's spelling of SYSTEM$TASK_DEPENDENTS_ENABLE.
SCALAR_FUNCTIONS = frozenset({"stream_status", "task_dependents_enable"})
_SCALAR_PREFIX = "system$"

_TRIGGERS = (
    "system",
    "sys.",
    "account_usage",
    "next_runs",
    "task_history",
    "task_graphs",
    "task_dependents",
    "notification_history",
    "stream_status",
)


@dataclass(frozen=True, slots=True)
class Arg:
    """One argument as written: ``name`` for ``name => expr``, ``text`` the expression's source."""

    name: str | None
    text: str
    literal: object = None
    is_literal: bool = False


@dataclass(frozen=True, slots=True)
class VirtualRef:
    """One reference: ``kind`` is "table" (system.x), "function" (table function) or "scalar"."""

    kind: str
    name: str
    args: tuple[Arg, ...]
    start: int
    end: int  # exclusive
    #: Written before the replacement: ``SELECT `` when the reference was a whole ``CALL`` statement
    #: (``CALL SYSTEM$SET_RETURN_VALUE('x')``, the spelling Snowflake's docs use), whose ``CALL``
    #: the reference covers: no warehouse can CALL a value.
    lead: str = ""

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.start}"


@dataclass(frozen=True, slots=True)
class Rewritten:
    text: str
    refs: tuple[VirtualRef, ...]

    def render(self, replacements: Mapping[str, str]) -> str:
        """The text with each ref's source replaced by ``replacements[ref.key]``.

        A reference written over several lines is followed by as many line breaks, so every line
        keeps its number (the warehouse's errors say ``LINE n``).
        """
        out: list[str] = []
        pos = 0
        for ref in self.refs:
            out.append(self.text[pos : ref.start])
            out.append(ref.lead + replacements[ref.key])
            out.append("\n" * self.text.count("\n", ref.start, ref.end))
            pos = ref.end
        out.append(self.text[pos:])
        return "".join(out)

    def as_written(self, message: str, replacements: Mapping[str, str]) -> str:
        """``message`` (a warehouse's error about the rendered text) speaking of what the user wrote.

        Every internal relation name of ``replacements`` (``__tasksql_task_versions_94``) becomes the
        reference it replaced (``system.task_versions``); in a ``LINE n: ...`` excerpt followed by a
        line of carets, the carets move with the text so they still point at the same thing.
        """
        return restore_names(message, self._written_names(replacements))

    @contextlib.contextmanager
    def errors_as_written(self, replacements: Mapping[str, str]) -> Iterator[None]:
        """Run the rendered text inside this block: a :class:`TasksqlError` raised in it leaves with
        its message in the user's terms (:meth:`as_written`)."""
        try:
            yield
        except TasksqlError as err:
            err.message = self.as_written(err.message, replacements)
            err.args = (err.message, *err.args[1:])
            raise

    def _written_names(self, replacements: Mapping[str, str]) -> dict[str, str]:
        names: dict[str, str] = {}
        for ref in self.refs:
            placeholder = replacements.get(ref.key, "")
            if _PLACEHOLDER.fullmatch(placeholder) and placeholder not in names:
                names[placeholder] = " ".join(self.text[ref.start : ref.end].split())
        return names


_PLACEHOLDER = re.compile(r"__tasksql_[A-Za-z0-9_]+")
_CARETS = re.compile(r"( *)(\^+) *")


def _fallback_name(placeholder: str) -> str:
    """A name for a relation of another statement (DuckDB may suggest one): ``system.tasks`` or
    ``task_history(...)``."""
    name = placeholder.removeprefix("__tasksql_").rstrip("0123456789").rstrip("_")
    return f"system.{name}" if name in SYSTEM_TABLES else f"{name}(...)"


def restore_names(message: str, names: Mapping[str, str] | None = None) -> str:
    """``message`` with each internal relation name replaced by ``names[name]`` (see
    :meth:`Rewritten.as_written`), or when ``names`` does not know it by the relation's name
    (``system.tasks``, ``task_history(...)``); carets under a ``LINE`` excerpt are moved to match."""
    names = names or {}
    if "__tasksql_" not in message:
        return message
    lines = message.split("\n")
    for i, line in enumerate(lines):
        if "__tasksql_" not in line:
            continue
        carets = _CARETS.fullmatch(lines[i + 1]) if i + 1 < len(lines) else None
        moved: list[tuple[int, int, int, int]] = []  # (old start, old end, new start, new end)
        out: list[str] = []
        pos = 0
        for m in _PLACEHOLDER.finditer(line):
            out.append(line[pos : m.start()])
            new_start = sum(len(part) for part in out)
            out.append(names.get(m.group()) or _fallback_name(m.group()))
            moved.append((m.start(), m.end(), new_start, new_start + len(out[-1])))
            pos = m.end()
        out.append(line[pos:])
        lines[i] = "".join(out)
        if carets is not None and line.startswith("LINE "):
            first = len(carets.group(1))
            last = first + len(carets.group(2))
            new_first, new_last = _moved(first, moved, start=True), _moved(last, moved, start=False)
            lines[i + 1] = " " * new_first + "^" * max(1, new_last - new_first)
    return "\n".join(lines)


def _moved(pos: int, moved: Sequence[tuple[int, int, int, int]], *, start: bool) -> int:
    """Where old position ``pos`` of a line is after the replacements ``moved`` (old start, old end,
    new start, new end); a position inside a replaced name moves to the start (``start``) or the
    end of its replacement."""
    shift = 0
    for old_start, old_end, new_start, new_end in moved:
        if old_end <= pos:
            shift = new_end - old_end
        elif old_start < pos:
            return new_start if start else new_end
        else:
            break
    return pos + shift


#: Texts longer than this are searched outside their strings and comments only (a megabyte of
#: INSERT ... VALUES whose strings say "system" is not tokenized for nothing).
_LONG_TEXT = 4096


def might_reference(text: str) -> bool:
    """Cheap pre-check: False means the text certainly has no virtual reference. Linear: a long
    text is searched in its code only (strings and comments skipped by the scanner)."""
    low = text.lower()
    if not any(t in low for t in _TRIGGERS):
        return False
    if len(text) <= _LONG_TEXT:
        return True
    try:
        code = " ".join(low[start:end] for start, end in scan.code_runs(text))
    except scan.ScanError:
        return True  # unreadable text: the tokenizer (or the warehouse) says why
    return any(t in code for t in _TRIGGERS)


#: Dialects of databases with a ``system`` schema of their own (ClickHouse's ``system.numbers``,
#: ``system.processes``, ...): there ``system.<name>`` that tasksql does not know is theirs.
OWN_SYSTEM_SCHEMA = frozenset({"clickhouse"})


@functools.lru_cache(maxsize=4096)
def find_refs(text: str, dialect: str | None = None) -> Rewritten:
    """Every virtual reference in ``text``, in order. Raises ValidationError for ``system.<unknown>``
    (unless the warehouse's ``dialect`` has a ``system`` schema of its own: then it is left alone).

    Cached: a task body is analysed once, not at every run.
    """
    if not might_reference(text):
        return Rewritten(text, ())
    try:
        # CALL and EXECUTE are not "commands" here (sqlglot would read the rest as one string)
        tokens = raw_tokens(text)
    except TokenError:
        return Rewritten(text, ())  # the warehouse will report its own, better error
    refs: list[VirtualRef] = []
    i = 0
    while i < len(tokens):
        found = _match_at(text, tokens, i, dialect in OWN_SYSTEM_SCHEMA)
        if found is None:
            i += 1
            continue
        ref, next_i = found
        refs.append(ref)
        i = next_i
    return Rewritten(text, tuple(refs))


def _word(tok: Token) -> str:
    return tok.text.lower() if tok.token_type in (TokenType.VAR, TokenType.IDENTIFIER) else ""


def _match_at(
    text: str, tokens: Sequence[Token], i: int, own_system: bool = False
) -> tuple[VirtualRef, int] | None:
    tok = tokens[i]
    word = _word(tok) or tok.text.lower()
    nxt = tokens[i + 1] if i + 1 < len(tokens) else None
    prev = tokens[i - 1] if i > 0 else None
    if prev is not None and prev.token_type == TokenType.DOT:
        return None  # x.system.tasks, or the function part of schema.fn() handled from the schema token
    # snowflake.account_usage.<view>
    if word == "snowflake" and _dotted(tokens, i, "account_usage"):
        view = _word(tokens[i + 4])
        after = tokens[i + 5] if i + 5 < len(tokens) else None
        if view in ACCOUNT_USAGE_VIEWS and not (after is not None and after.token_type == TokenType.DOT):
            return VirtualRef("table", ACCOUNT_USAGE_VIEWS[view], (), tok.start, tokens[i + 4].end + 1), i + 5
    # system.<table>, and Ocient's sys.<table> (sys.tasks, sys.subtasks) for the tables tasksql has
    dotted = nxt is not None and nxt.token_type == TokenType.DOT and i + 2 < len(tokens)
    if word in ("system", "sys") and dotted:
        name = _word(tokens[i + 2])
        after = tokens[i + 3] if i + 3 < len(tokens) else None
        if name and not (after is not None and after.token_type in (TokenType.DOT, TokenType.L_PAREN)):
            if name not in SYSTEM_TABLES and (own_system or word == "sys"):
                return None  # the warehouse's own system table (or its sys schema: MySQL's)
            if name not in SYSTEM_TABLES:
                known = ", ".join(f"system.{n}" for n in sorted(SYSTEM_TABLES))
                raise ValidationError(
                    f"unknown system table system.{name}; known: {known}",
                    code="UNKNOWN_SYSTEM_TABLE",
                    span=Span.at(text, tok.start, tokens[i + 2].end + 1),
                    source=text,
                )
            return VirtualRef("table", name, (), tok.start, tokens[i + 2].end + 1), i + 3
    # [TABLE(] [[<database>.]information_schema.] fn(...) [)]
    start_i, fn_i = i, i
    if word == "information_schema" and nxt is not None and nxt.token_type == TokenType.DOT:
        fn_i = i + 2
    elif word and _dotted(tokens, i, "information_schema"):
        fn_i = i + 4  # Snowflake's <database>.INFORMATION_SCHEMA.TASK_HISTORY(...)
    if fn_i >= len(tokens) or fn_i + 1 >= len(tokens) or tokens[fn_i + 1].token_type != TokenType.L_PAREN:
        return None
    fname = (_word(tokens[fn_i]) or "").lower()
    if fname.startswith(_SCALAR_PREFIX) or fname in SCALAR_FUNCTIONS:
        kind = "scalar"
    elif fname in TABLE_FUNCTIONS and (fn_i > i or _in_from_position(tokens, i)):
        kind = "function"
    else:
        return None
    close = _matching_paren(tokens, fn_i + 1)
    if close is None:
        return None
    args = _split_args(text, tokens, fn_i + 2, close)
    first, last = tokens[start_i], tokens[close]
    end_index = close
    # unwrap TABLE( ... ) around a table function
    wrapped = (
        kind == "function"
        and start_i >= 2
        and tokens[start_i - 1].token_type == TokenType.L_PAREN
        and tokens[start_i - 2].text.upper() == "TABLE"
        and close + 1 < len(tokens)
        and tokens[close + 1].token_type == TokenType.R_PAREN
    )
    if wrapped:
        first, last, end_index = tokens[start_i - 2], tokens[close + 1], close + 1
    lead = ""
    if kind == "scalar" and start_i == fn_i and _whole_call(tokens, start_i, close):
        first, lead = tokens[start_i - 1], "SELECT "
    return VirtualRef(kind, fname, args, first.start, last.end + 1, lead), end_index + 1


def _dotted(tokens: Sequence[Token], i: int, middle: str) -> bool:
    """Whether ``tokens[i] . <middle> . <word>`` starts at ``i``."""
    return (
        i + 4 < len(tokens)
        and tokens[i + 1].token_type == TokenType.DOT
        and _word(tokens[i + 2]) == middle
        and tokens[i + 3].token_type == TokenType.DOT
        and bool(_word(tokens[i + 4]))
    )


def _whole_call(tokens: Sequence[Token], fn_i: int, close: int) -> bool:
    """Whether ``CALL fn(...)`` is the whole statement: CALL first, nothing but ``;`` after."""
    if fn_i < 1 or tokens[fn_i - 1].text.upper() != "CALL":
        return False
    if fn_i >= 2 and tokens[fn_i - 2].token_type != TokenType.SEMICOLON:
        return False
    return close + 1 == len(tokens) or tokens[close + 1].token_type == TokenType.SEMICOLON


def _in_from_position(tokens: Sequence[Token], i: int) -> bool:
    if i == 0:
        return False
    prev = tokens[i - 1]
    if prev.token_type in (TokenType.FROM, TokenType.JOIN, TokenType.COMMA, TokenType.LATERAL):
        return True
    return prev.token_type == TokenType.L_PAREN and i >= 2 and tokens[i - 2].text.upper() == "TABLE"


def _matching_paren(tokens: Sequence[Token], open_i: int) -> int | None:
    depth = 0
    for j in range(open_i, len(tokens)):
        tt = tokens[j].token_type
        if tt == TokenType.L_PAREN:
            depth += 1
        elif tt == TokenType.R_PAREN:
            depth -= 1
            if depth == 0:
                return j
    return None


def _split_args(text: str, tokens: Sequence[Token], lo: int, hi: int) -> tuple[Arg, ...]:
    """Arguments between tokens lo..hi-1, split at top-level commas."""
    args: list[Arg] = []
    depth = 0
    begin = lo
    for j in range(lo, hi + 1):
        tt = tokens[j].token_type if j < hi else TokenType.COMMA
        if tt in (TokenType.L_PAREN, TokenType.L_BRACKET):
            depth += 1
        elif tt in (TokenType.R_PAREN, TokenType.R_BRACKET):
            depth -= 1
        elif tt == TokenType.COMMA and depth == 0:
            if j > begin:
                args.append(_make_arg(text, tokens[begin:j]))
            begin = j + 1
    return tuple(args)


def _make_arg(text: str, toks: Sequence[Token]) -> Arg:
    name = None
    if len(toks) >= 3 and toks[1].token_type == TokenType.FARROW:
        name = toks[0].text.lower()
        toks = toks[2:]
    src = text[toks[0].start : toks[-1].end + 1]
    if len(toks) == 1:
        t = toks[0]
        if t.token_type == TokenType.STRING:
            return Arg(name, src, t.text, True)
        if t.token_type == TokenType.NUMBER:
            value = _number(t.text)
            if value is not None:
                return Arg(name, src, value, True)
        if t.token_type in (TokenType.TRUE, TokenType.FALSE):
            return Arg(name, src, t.token_type == TokenType.TRUE, True)
        if t.token_type == TokenType.NULL:
            return Arg(name, src, None, True)
    if len(toks) == 2 and toks[0].token_type == TokenType.DASH and toks[1].token_type == TokenType.NUMBER:
        number = _number(toks[1].text)
        if number is not None:
            return Arg(name, src, -number, True)
    return Arg(name, src)  # evaluated by the warehouse


def _number(text: str) -> int | float | None:
    """A number literal's value; None for one Python does not read (``0x1F``, ``1_000``...), which
    the warehouse then evaluates."""
    try:
        return float(text) if any(c in text for c in ".eE") else int(text)
    except ValueError:
        return None


def sql_literal(value: object) -> str:
    """A SQL literal for a Python value (strings quoted, None as NULL)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"
