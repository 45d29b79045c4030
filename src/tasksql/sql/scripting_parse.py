"""Reading a Snowflake Scripting block into steps (:class:`~tasksql.sql.scripting.Step`).

The script is split at its semicolons into pieces (quotes, comments and dollar-quoted strings
kept whole); a construct's opening words lead the piece of its first statement (``BEGIN x := 1``,
``IF (c) THEN RETURN 1``), and its closing words are a piece of their own (``END IF``, ``END FOR
outer``; ``UNTIL (c) END REPEAT``). The grammar is Snowflake's (docs.snowflake.com/en/sql-reference/
snowflake-scripting). Whatever is not well formed or not run is a :class:`ScriptingError` at the
offset of the word in the script, saying what was expected.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tasksql.errors import TasksqlError
from tasksql.sql.scripting import (
    BUILT_IN_EXCEPTIONS,
    EXECUTE_IMMEDIATE,
    LOOPS,
    SUPPORTED,
    Declared,
    Handler,
    Nested,
    ScriptingError,
    Step,
    StepKind,
    literal_place,
    string_literal,
)
from tasksql.sql.split import split

_NAME = r"[A-Za-z_][\w$]*"
_ASSIGN = re.compile(rf"^(?P<name>{_NAME})\s*:=\s*(?P<expr>.+)$", re.S)
_DECL = re.compile(rf"^(?P<name>{_NAME})(?P<type>.*?)(?:(?::=|\bDEFAULT\b)(?P<expr>.+))?$", re.S | re.I)
_EXC_DECL = re.compile(
    rf"^(?P<name>{_NAME})\s+EXCEPTION\b\s*(?:\(\s*(?P<number>[-+]?\s*\d+)\s*,\s*"
    r"'(?P<message>(?:[^']|'')*)'\s*\))?$",
    re.S | re.I,
)
_LET = re.compile(rf"^LET\s+(?P<name>{_NAME})(?P<type>.*?)(?::=|\bDEFAULT\b)(?P<expr>.+)$", re.S | re.I)
_RETURN = re.compile(r"^RETURN\b(?P<expr>.*)$", re.S | re.I)
_QUOTED = r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\""


def _balanced(depth: int) -> str:
    """A lazy pattern for text whose parentheses (``depth`` levels deep) are balanced and whose
    quotes are closed: a keyword inside ``( ... )`` or a string is not the construct's."""
    inner = r"[^()'\"]"
    for _ in range(depth):
        inner = rf"(?:{_QUOTED}|\((?:{inner})*\)|[^()'\"])"
    return rf"(?:{inner})*?"


_BAL = _balanced(5)
_THEN = re.compile(rf"^(?:ELSE)?IF\b(?P<cond>{_BAL})\bTHEN\b\s*(?P<rest>.*)$", re.S | re.I)
_ELSE = re.compile(r"^ELSE\b\s*(?P<rest>.*)$", re.S | re.I)
_CASE = re.compile(
    rf"^CASE\b(?P<operand>{_BAL})\bWHEN\b(?P<cond>{_BAL})\bTHEN\b\s*(?P<rest>.*)$", re.S | re.I
)
_WHEN = re.compile(rf"^WHEN\b(?P<cond>{_BAL})\bTHEN\b\s*(?P<rest>.*)$", re.S | re.I)
_FOR = re.compile(
    rf"^FOR\s+(?P<name>{_NAME})\s+IN\s+(?:(?P<reverse>REVERSE)\s+)?(?P<start>.+?)\s+TO\s+"
    r"(?P<end>.+?)\s+(?P<kw>DO|LOOP)\b\s*(?P<rest>.*)$",
    re.S | re.I,
)
_FOR_CURSOR = re.compile(
    rf"^FOR\s+(?P<name>{_NAME})\s+IN\s+(?P<source>{_NAME})\s+(?P<kw>DO|LOOP)\b\s*(?P<rest>.*)$", re.S | re.I
)
_FOR_QUERY = re.compile(
    rf"^FOR\s+(?P<name>{_NAME})\s+IN\s+(?P<source>\(?\s*(?:SELECT|WITH)\b{_BAL})\s+(?P<kw>DO|LOOP)\b\s*(?P<rest>.*)$",
    re.S | re.I,
)
_RETURN_TABLE = re.compile(r"^RETURN\s+TABLE\s*\((?P<source>.*)\)\s*$", re.S | re.I)
_WHILE = re.compile(rf"^WHILE\b(?P<cond>{_BAL})\b(?P<kw>DO|LOOP)\b\s*(?P<rest>.*)$", re.S | re.I)
_UNTIL = re.compile(rf"^UNTIL\b(?P<cond>{_BAL})(?:\bEND\s+REPEAT(?:\s+(?P<label>{_NAME}))?)?$", re.S | re.I)
_OPENER = re.compile(r"^(?P<word>BEGIN|DECLARE|LOOP|REPEAT|EXCEPTION)\b\s*(?P<rest>.*)$", re.S | re.I)
_HANDLER = re.compile(
    r"^(?:EXCEPTION\s+)?WHEN\b(?P<names>.*?)(?:\s(?P<kind>EXIT|CONTINUE))?\s+THEN\b\s*(?P<rest>.*)$",
    re.S | re.I,
)
_JUMP = re.compile(rf"^(?P<word>BREAK|EXIT|CONTINUE|ITERATE)(?:\s+(?P<label>{_NAME}))?$", re.I)
_RAISE = re.compile(rf"^RAISE(?:\s+(?P<name>{_NAME}))?$", re.I)
_END = re.compile(rf"^END(?:\s+(?P<tag>IF|FOR|LOOP|WHILE|REPEAT|CASE)\b)?(?:\s+(?P<label>{_NAME}))?$", re.I)
_SELECT_INTO = re.compile(
    rf"^SELECT\b(?P<list>.*?)\bINTO\s+(?P<names>:\s*{_NAME}(?:\s*,\s*:\s*{_NAME})*)(?P<rest>.*)$", re.S | re.I
)
_CURSOR = re.compile(rf"^(?:LET\s+)?(?P<name>{_NAME})\s+CURSOR\s+FOR\b\s*(?P<query>.*)$", re.S | re.I)
_RESULTSET = re.compile(
    rf"^(?:LET\s+)?(?P<name>{_NAME})\s+RESULTSET\b\s*(?:(?::=|\bDEFAULT\b)\s*(?P<query>.*))?$", re.S | re.I
)
_OPEN = re.compile(rf"^OPEN\s+(?P<name>{_NAME})(?:\s+USING\s*\((?P<using>.*)\))?$", re.S | re.I)
_FETCH = re.compile(rf"^FETCH\s+(?:NEXT\s+FROM\s+)?(?P<name>{_NAME})\s+INTO\s+(?P<into>.+)$", re.S | re.I)
_CLOSE = re.compile(rf"^CLOSE\s+(?P<name>{_NAME})$", re.I)
#: Words opening Snowflake Scripting that tasksql does not run.
_REFUSED = frozenset({"ASYNC", "AWAIT", "CANCEL"})
_NOT_BLOCKS = ("TRANSACTION", "WORK", "TRAN")
#: Blanks and comments before a statement's first word.
_LEAD = re.compile(r"(?:\s+|--[^\n]*(?:\n|$)|//[^\n]*(?:\n|$)|/\*.*?\*/)*", re.S)


@dataclass
class _Scope:
    """What a statement may name: variables, declared exceptions; whether in a handler."""

    names: set[str] = field(default_factory=set)
    exceptions: dict[str, Declared] = field(default_factory=dict)
    in_handler: bool = False
    cursors: set[str] = field(default_factory=set)
    resultsets: set[str] = field(default_factory=set)
    #: The variables the innermost block declares itself (DECLARE, LET): its own while it runs.
    local: set[str] = field(default_factory=set)

    def child(self, *, in_handler: bool | None = None, block: bool = False) -> _Scope:
        return _Scope(
            set(self.names),
            dict(self.exceptions),
            self.in_handler if in_handler is None else in_handler,
            set(self.cursors),
            set(self.resultsets),
            set() if block else self.local,
        )

    def declare(self, name: str) -> None:
        self.names.add(name)
        self.local.add(name)


class _Reader:
    """The pieces of a script, read in order; a piece's rest can be put back to be read next."""

    def __init__(self, pieces: list[tuple[str, int]]) -> None:
        self._pieces = pieces
        self._at = 0

    def peek(self) -> tuple[str, int] | None:
        return self._pieces[self._at] if self._at < len(self._pieces) else None

    def take(self) -> tuple[str, int]:
        piece = self._pieces[self._at]
        self._at += 1
        return piece

    def put(self, m: re.Match[str], group: str, offset: int) -> None:
        """Put the text of ``group`` of ``m`` (a match on a piece at ``offset``) back, if any."""
        rest = m.group(group)
        if rest is not None:
            lead = _LEAD.match(rest)
            assert lead is not None
            if rest[lead.end() :].strip():
                self._pieces.insert(
                    self._at, (rest[lead.end() :].strip(), offset + m.start(group) + lead.end())
                )


def parse_block(script: str) -> tuple[Step, ...]:
    """The steps of the block ``script``: its declarations' and statements' steps, or, when it
    has an ``EXCEPTION`` section, one ``block`` step.

    :raises ScriptingError: the block is not well formed, or uses what tasksql does not run.
    """
    reader = _Reader(_pieces(script, 0))
    first = reader.peek()
    if first is None or _head(first[0]) not in ("DECLARE", "BEGIN"):
        raise ScriptingError("the block has no BEGIN ... END: write [DECLARE ...] BEGIN ... END", 0)
    text, offset = reader.take()
    steps = _block(text, offset, reader, _Scope(), nested=False)
    if (extra := reader.peek()) is not None:
        raise ScriptingError(f"{_words(extra[0])} after the block's END: the block ends there", extra[1])
    _check_jumps(steps, [])
    return steps


def parse_script(script: str) -> tuple[Step, ...]:
    """The steps of a script run by ``EXECUTE IMMEDIATE`` (:func:`is_script`): a block
    (:func:`parse_block`), or statements run in order. It is a script of its own: it sees no
    variable and no loop of a block around it.

    :raises ScriptingError: as :func:`parse_block`.
    """
    reader = _Reader(_pieces(script, 0))
    first = reader.peek()
    if first is not None and _opens_block(first[0]):
        return parse_block(script)
    steps: list[Step] = []
    scope = _Scope()
    while (piece := reader.peek()) is not None:
        text, offset = piece
        if (closer := _closer(text)) is not None:
            raise ScriptingError(f"{closer} without {_OPENS[closer]}", offset)
        reader.take()
        steps.extend(_statement(text, offset, reader, scope))
    _check_jumps(tuple(steps), [])
    return tuple(steps)


def is_script(text: str) -> bool:
    """Whether the SQL text ``text`` (an ``EXECUTE IMMEDIATE`` string's value) is a script rather
    than one statement: a ``[DECLARE ...] BEGIN ... END`` block, or several statements. Text that
    cannot be split is no script (the warehouse's parser judges it)."""
    try:
        pieces = _pieces(text, 0)
    except ScriptingError:
        return False
    return len(pieces) > 1 or (len(pieces) == 1 and _opens_block(pieces[0][0]))


def _opens_block(piece: str) -> bool:
    """Whether the piece ``piece`` opens a block (DECLARE, or BEGIN that is no transaction's)."""
    head = _head(piece)
    if head == "DECLARE":
        return True
    return (
        head == "BEGIN" and piece.strip().upper() != "BEGIN" and not _words(piece)[6:].startswith(_NOT_BLOCKS)
    )


def _nested(expr: str, using: str | None, at: int, using_at: int) -> Nested | None:
    """The script of ``EXECUTE IMMEDIATE <expr> [USING (<using>)]`` (``expr`` at offset ``at`` of
    the block, USING at ``using_at``) when ``expr`` is a string literal whose value is a script;
    None otherwise."""
    value = string_literal(expr)
    if value is None or not is_script(value):
        return None
    lead, quotes = literal_place(expr)
    place = Nested(value, (), at + lead, quotes)
    if using:
        raise ScriptingError(
            "EXECUTE IMMEDIATE of a script takes no USING: a script's values are its own variables",
            using_at,
        )
    try:
        steps = parse_script(value)
    except ScriptingError as err:
        message = err.message
        if message.startswith(("BREAK outside", "CONTINUE outside")):
            message += " (the script of EXECUTE IMMEDIATE is one of its own: the loops around it are not its)"
        raise ScriptingError(f"in the script of EXECUTE IMMEDIATE: {message}", place.at(err.offset)) from None
    return Nested(value, steps, place.start, quotes)


def _head(text: str) -> str:
    return text.split(None, 1)[0].upper().rstrip(";(") if text.strip() else ""


def _words(text: str) -> str:
    return " ".join(text.split()[:3]).upper()


def _closer(text: str) -> str | None:
    """The construct word(s) a piece that continues or closes a construct starts with; None for
    a statement."""
    head = _head(text)
    if head in ("ELSE", "ELSEIF", "WHEN", "UNTIL"):
        return head
    if head == "EXCEPTION" and re.match(r"^EXCEPTION\s+WHEN\b", text, re.I):
        return "EXCEPTION"
    if head == "END":
        m = _END.match(text)
        return "END" if m is None or m.group("tag") is None else f"END {m.group('tag').upper()}"
    return None


#: What opens the construct each closer belongs to, for "<closer> without <opener>".
_OPENS = {
    "ELSE": "IF or CASE", "ELSEIF": "IF", "WHEN": "CASE or EXCEPTION", "UNTIL": "REPEAT",
    "EXCEPTION": "BEGIN", "END": "BEGIN", "END IF": "IF", "END FOR": "FOR", "END LOOP": "LOOP",
    "END WHILE": "WHILE", "END REPEAT": "REPEAT", "END CASE": "CASE",
}  # fmt: skip


def _statements(
    reader: _Reader, scope: _Scope, closers: frozenset[str], what: tuple[str, str, int]
) -> tuple[Step, ...]:
    """Statements up to a piece starting with one of ``closers`` (left to read). ``what``: the
    construct's name, what closes it, and where it opens (for "the IF is never closed by END IF")."""
    name, closed_by, opened = what
    steps: list[Step] = []
    while True:
        piece = reader.peek()
        if piece is None:
            raise ScriptingError(f"the {name} is never closed by {closed_by}", opened)
        text, offset = piece
        closer = _closer(text)
        if closer is not None:
            if closer in closers:
                return tuple(steps)
            if closer == "END" and "END" not in closers:
                raise ScriptingError(f"the {name} is never closed by {closed_by}", opened)
            raise ScriptingError(f"{closer} without {_OPENS[closer]}: expected {closed_by} first", offset)
        reader.take()
        steps.extend(_statement(text, offset, reader, scope))


def _statement(text: str, offset: int, reader: _Reader, scope: _Scope) -> tuple[Step, ...]:
    """The step(s) of the statement starting with the piece ``text`` (the rest of it in ``reader``)."""
    head = _head(text)
    if head == "IF":
        return (_if(text, offset, reader, scope),)
    if head == "CASE":
        return (_case(text, offset, reader, scope),)
    if head in ("FOR", "WHILE", "REPEAT", "LOOP"):
        return (_loop(head, text, offset, reader, scope),)
    if head in ("BEGIN", "DECLARE") and not (
        head == "BEGIN" and (text.strip().upper() == "BEGIN" or _words(text)[6:].startswith(_NOT_BLOCKS))
    ):
        return _block(text, offset, reader, scope)
    if (jump := _JUMP.match(text)) is not None:
        jumps: StepKind = "break" if jump.group("word").upper() in ("BREAK", "EXIT") else "continue"
        label = jump.group("label")
        return (Step(jumps, "", offset, name=label.lower() if label else None),)
    if head == "RAISE":
        return (_raise(text, offset, scope),)
    cursor_like = head in ("LET", "OPEN", "FETCH", "CLOSE") or (
        (a := _ASSIGN.match(text)) is not None and a.group("name").lower() in scope.resultsets
    )
    if cursor_like and (found := _cursor_step(text, offset, scope)) is not None:
        return (found,)
    if (a := _ASSIGN.match(text)) is not None:
        name = a.group("name").lower()
        if name not in scope.names:
            raise ScriptingError(
                f"variable {a.group('name')} is not declared: declare it in DECLARE, or write LET", offset
            )
        return (Step("set", a.group("expr").strip(), offset, name),)
    if head == "LET":
        let = _LET.match(text)
        if let is None:
            raise ScriptingError("expected LET <name> [<type>] := <expr>", offset)
        scope.declare(let.group("name").lower())
        return (Step("set", let.group("expr").strip(), offset, let.group("name").lower()),)
    if (r := _RETURN.match(text)) is not None:
        if (table := _RETURN_TABLE.match(text)) is not None:
            source = table.group("source").strip()
            if re.fullmatch(_NAME, source) and source.lower() not in scope.resultsets:
                raise ScriptingError(
                    f"{source} is not a RESULTSET: RETURN TABLE(<RESULTSET or query>)", offset
                )
            return (
                Step("return", "", offset, end=source.lower() if re.fullmatch(_NAME, source) else source),
            )
        return (Step("return", r.group("expr").strip(), offset),)
    if head == "EXECUTE" and (ex := EXECUTE_IMMEDIATE.match(text)) is not None:
        if re.fullmatch(r"[-+]?\d+(?:\.\d*)?|NULL|TRUE|FALSE", ex.group("expr").strip(), re.I):
            raise ScriptingError(
                "EXECUTE IMMEDIATE takes a string: a '...' or $$...$$ literal, a variable or a string"
                " expression",
                offset + ex.start("expr"),
            )
        expr = ex.group("expr").strip()
        using_at = offset + max(text.upper().find("USING", ex.end("expr")), ex.end("expr"))
        nested = _nested(expr, ex.group("using"), offset + ex.start("expr"), using_at)
        return (Step("execute", expr, offset, end=(ex.group("using") or "").strip(), script=nested),)
    if head == "SELECT" and (into := _SELECT_INTO.match(text)) is not None:
        return (_select_into(into, offset, scope),)
    if text.upper() == "NULL":  # Snowflake's statement that does nothing
        return ()
    if head in _REFUSED:
        raise ScriptingError(f"{head} is not supported: {SUPPORTED}", offset)
    return (Step("sql", text, offset),)


def _cursor_step(text: str, offset: int, scope: _Scope, *, declaring: bool = False) -> Step | None:
    """A cursor's or result set's declaration (``<name> CURSOR FOR <query>``, ``<name> RESULTSET
    [:= (<query>)]``, also after LET), a result set's assignment, ``OPEN``, ``FETCH``, ``CLOSE``;
    None for another statement."""
    if (c := _CURSOR.match(text)) is not None:
        query = c.group("query").strip()
        if not query:
            raise ScriptingError("expected <name> CURSOR FOR <query or RESULTSET name>", offset)
        if re.fullmatch(_NAME, query) and query.lower() not in scope.resultsets:
            raise ScriptingError(
                f"{query} is not a RESULTSET declared before: CURSOR FOR <query or RESULTSET>", offset
            )
        scope.cursors.add(c.group("name").lower())
        return Step("cursor", query, offset, c.group("name").lower())
    r = _RESULTSET.match(text)
    if r is None and (a := _ASSIGN.match(text)) is not None and a.group("name").lower() in scope.resultsets:
        r = a
    if r is not None:
        query = _unwrap((r.group("expr") if r.re is _ASSIGN else r.group("query")) or "")
        if re.match(r"ASYNC\b", query, re.I) or (
            re.match(r"EXECUTE\b", query, re.I) and not EXECUTE_IMMEDIATE.match(query)
        ):
            raise ScriptingError(f"a RESULTSET of {_words(query)} is not supported: {SUPPORTED}", offset)
        scope.resultsets.add(r.group("name").lower())
        scope.declare(r.group("name").lower())
        return Step("resultset", query, offset, r.group("name").lower())
    head = _head(text)
    if declaring or head not in _CURSOR_WORDS:
        return None
    m = _CURSOR_WORDS[head][0].match(text)
    if m is None:
        raise ScriptingError(f"expected {_CURSOR_WORDS[head][1]}", offset)
    name = m.group("name").lower()
    if name not in scope.cursors:
        raise ScriptingError(
            f"{m.group('name')} is not a cursor: declare it <name> CURSOR FOR <query>", offset
        )
    if head == "FETCH":
        into = [v.strip().lstrip(":").strip().lower() for v in m.group("into").split(",")]
        for var in into:
            if var not in scope.names:
                raise ScriptingError(
                    f"variable {var} is not declared: declare it in DECLARE, or write LET", offset
                )
        return Step("fetch", ",".join(into), offset, name)
    using = m.group("using") if head == "OPEN" else None
    return Step("open" if head == "OPEN" else "close", (using or "").strip(), offset, name)


_CURSOR_WORDS = {
    "OPEN": (_OPEN, "OPEN <cursor> [USING (<variable>, ...)]"),
    "FETCH": (_FETCH, "FETCH <cursor> INTO <variable> [, <variable> ...]"),
    "CLOSE": (_CLOSE, "CLOSE <cursor>"),
}


def _unwrap(query: str) -> str:
    """``query`` without the parentheses around all of it."""
    query = query.strip()
    while query.startswith("(") and query.endswith(")") and _closes_at_end(query):
        query = query[1:-1].strip()
    return query


def _closes_at_end(text: str) -> bool:
    depth = 0
    for i, ch in enumerate(re.sub(r"'(?:[^']|'')*'", lambda m: "_" * len(m.group(0)), text)):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth == 0:
            return i == len(text) - 1
    return False


def _select_into(m: re.Match[str], offset: int, scope: _Scope) -> Step:
    """``SELECT <expr>, ... INTO :<name>, ... [FROM ...]``: the variables set to the columns of
    the query's first row (NULL for no row), in order."""
    names = [n.strip().lstrip(":").strip().lower() for n in m.group("names").split(",")]
    for name in names:
        if name not in scope.names:
            raise ScriptingError(
                f"variable {name} is not declared: declare it in DECLARE, or write LET",
                offset + m.start("names"),
            )
    return Step(
        "into", f"SELECT {m.group('list').strip()} {m.group('rest').strip()}", offset, ",".join(names)
    )


def _block(
    text: str, offset: int, reader: _Reader, outer: _Scope, *, nested: bool = True
) -> tuple[Step, ...]:
    """The block whose first piece ``text`` (taken) starts with DECLARE or BEGIN: its steps, or
    one ``block`` step when it has handlers or, nested, variables of its own (``name``: them,
    comma-separated; an outer variable of such a name is back after the block)."""
    scope = outer.child(block=True)
    steps: list[Step] = []
    opener = _OPENER.match(text)
    assert opener is not None
    opened = offset
    if opener.group("word").upper() == "DECLARE":
        reader.put(opener, "rest", offset)
        while True:
            piece = reader.peek()
            if piece is None:
                raise ScriptingError("the DECLARE section is not followed by BEGIN ... END", opened)
            text, offset = reader.take()
            if _head(text) == "BEGIN":
                break
            steps.extend(_declaration(text, offset, scope))
        opener = _OPENER.match(text)
        assert opener is not None
    reader.put(opener, "rest", offset)
    begun = offset
    body = _statements(reader, scope, frozenset({"END", "EXCEPTION"}), ("BEGIN ... END block", "END", begun))
    if not body and not steps:
        raise ScriptingError("the BEGIN ... END block has no statement", begun)
    steps.extend(body)
    handlers: list[Handler] = []
    text, offset = reader.take()
    if _closer(text) == "EXCEPTION":
        while _closer(text) in ("EXCEPTION", "WHEN"):
            handlers.append(_handler(text, offset, reader, scope, begun))
            text, offset = reader.take()
    end = _END.match(text)
    if end is None or end.group("tag") is not None:
        raise ScriptingError(f"expected END of the block, not {_words(text)}", offset)
    own = ",".join(sorted(scope.local)) if nested and scope.local else None
    if not handlers and own is None:
        return tuple(steps)
    return (Step("block", "", opened, name=own, body=tuple(steps), handlers=tuple(handlers)),)


def _declaration(text: str, offset: int, scope: _Scope) -> tuple[Step, ...]:
    if (exc := _EXC_DECL.match(text)) is not None:
        name = exc.group("name").lower()
        number = -20000 if exc.group("number") is None else int(re.sub(r"\s", "", exc.group("number")))
        if not -20999 <= number <= -20000:
            raise ScriptingError(
                f"exception {exc.group('name')}'s number is {number}: it must be between -20999 and -20000",
                offset + exc.start("number"),
            )
        message = (exc.group("message") or "").replace("''", "'")
        scope.exceptions[name] = Declared(name, number, message)
        return ()
    if (found := _cursor_step(text, offset, scope, declaring=True)) is not None:
        return (found,)
    d = _DECL.match(text)
    if d is None:
        raise ScriptingError(f"expected a declaration <name> [<type>] [DEFAULT <expr>], not {text!r}", offset)
    if re.search(r"\bEXCEPTION\b", d.group("type"), re.I):
        raise ScriptingError(
            "expected <name> EXCEPTION [(<number>, '<message>')] (the number between -20999 and -20000)",
            offset,
        )
    name = d.group("name").lower()
    scope.declare(name)
    expr = d.group("expr")
    return (Step("set", expr.strip() if expr else "NULL", offset, name),)


def _handler(text: str, offset: int, reader: _Reader, scope: _Scope, begun: int) -> Handler:
    """One ``[EXCEPTION] WHEN <name> [OR <name> ...] [EXIT | CONTINUE] THEN ...`` of a block's
    EXCEPTION section."""
    m = _HANDLER.match(text)
    if m is None:
        raise ScriptingError(
            "expected WHEN <exception> [OR <exception> ...] [EXIT | CONTINUE] THEN <statement>;", offset
        )
    names: list[str] = []
    for word in re.split(r"\bOR\b", m.group("names"), flags=re.I):
        name = word.strip().lower()
        if name != "other" and name not in BUILT_IN_EXCEPTIONS and name not in scope.exceptions:
            raise ScriptingError(
                f"exception {word.strip() or '(none)'} is not declared: a handler catches OTHER,"
                " STATEMENT_ERROR, EXPRESSION_ERROR or an exception DECLAREd in this block or one"
                " around it",
                offset + m.start("names") + len(m.group("names")) - len(m.group("names").lstrip()),
            )
        names.append(name)
    reader.put(m, "rest", offset)
    inner = scope.child(in_handler=True)
    inner.names |= {"sqlcode", "sqlerrm", "sqlstate"}
    steps = _statements(
        reader, inner, frozenset({"WHEN", "END"}), ("BEGIN ... EXCEPTION block", "END", begun)
    )
    resume = (m.group("kind") or "").upper() == "CONTINUE"
    return Handler(tuple(names), steps, resume)


def _raise(text: str, offset: int, scope: _Scope) -> Step:
    m = _RAISE.match(text)
    if m is None:
        raise ScriptingError("expected RAISE [<exception name>]", offset)
    if m.group("name") is None:
        if not scope.in_handler:
            raise ScriptingError(
                "RAISE without a name raises the exception being handled: only in a handler", offset
            )
        return Step("raise", "", offset)
    declared = scope.exceptions.get(m.group("name").lower())
    if declared is None:
        raise ScriptingError(
            f"exception {m.group('name')} is not declared:"
            " declare it <name> EXCEPTION [(<number>, '<message>')]",
            offset,
        )
    return Step("raise", "", offset, error=declared)


def _if(text: str, offset: int, reader: _Reader, scope: _Scope) -> Step:
    """The IF statement whose first piece is ``text`` (the rest of it in ``reader``)."""
    branches: list[tuple[str | None, tuple[Step, ...]]] = []
    opened = offset
    m = _THEN.match(text)
    while True:
        if m is None:
            raise ScriptingError("expected IF (<condition>) THEN <statement>; ...", offset)
        cond = m.group("cond").strip() if m.re is _THEN else None
        if cond == "":
            raise ScriptingError("the IF has no condition: write IF (<condition>) THEN", offset)
        reader.put(m, "rest", offset)
        closers = frozenset({"ELSEIF", "ELSE", "END IF"})
        branches.append((cond, _statements(reader, scope, closers, ("IF", "END IF", opened))))
        text, offset = reader.take()
        if _closer(text) == "END IF":
            return Step("if", "", opened, branches=tuple(branches))
        if cond is None:
            raise ScriptingError(f"{_head(text)} after ELSE: ELSE is the last branch of an IF", offset)
        m = _THEN.match(text) if _head(text) == "ELSEIF" else _ELSE.match(text)


def _case(text: str, offset: int, reader: _Reader, scope: _Scope) -> Step:
    """The CASE statement (simple, ``CASE (<expr>) WHEN <value> THEN``, or searched, ``CASE WHEN
    <cond> THEN``) whose first piece is ``text``."""
    opened = offset
    m = _CASE.match(text)
    if m is None:
        raise ScriptingError(
            "expected CASE [(<expression>)] WHEN <value or condition> THEN <statement>; ...", offset
        )
    operand = m.group("operand").strip()
    branches: list[tuple[str | None, tuple[Step, ...]]] = []
    closers = frozenset({"WHEN", "ELSE", "END", "END CASE"})
    while True:
        cond = m.group("cond").strip() if m.re is not _ELSE else None
        if cond == "":
            raise ScriptingError("the WHEN has no value or condition: write WHEN <expression> THEN", offset)
        reader.put(m, "rest", offset)
        branches.append((cond, _statements(reader, scope, closers, ("CASE", "END CASE", opened))))
        text, offset = reader.take()
        closer = _closer(text)
        if closer in ("END", "END CASE"):
            end = _END.match(text)
            if end is not None and end.group("label") is not None:
                raise ScriptingError(f"expected END CASE, not {_words(text)}", offset)
            return Step("case", operand, opened, branches=tuple(branches))
        if cond is None:
            raise ScriptingError(f"{closer} after ELSE: ELSE is the last branch of a CASE", offset)
        m = _WHEN.match(text) if closer == "WHEN" else _ELSE.match(text)
        if m is None:
            raise ScriptingError("expected WHEN <value or condition> THEN <statement>;", offset)


def _loop(head: str, text: str, offset: int, reader: _Reader, scope: _Scope) -> Step:
    """A FOR, WHILE, REPEAT or LOOP statement whose first piece is ``text``."""
    opened = offset
    name: str | None = None
    start = end = cond = ""
    reverse = False
    inner = scope
    if head == "FOR":
        m = _FOR.match(text)
        if m is None and (each := _FOR_CURSOR.match(text) or _FOR_QUERY.match(text)) is not None:
            return _each(each, offset, reader, scope)
        if m is None:
            raise ScriptingError("expected FOR <name> IN [REVERSE] <start> TO <end> DO", offset)
        name = m.group("name").lower()
        start, end, reverse = m.group("start").strip(), m.group("end").strip(), m.group("reverse") is not None
        closing = ("END FOR",) if m.group("kw").upper() == "DO" else ("END LOOP",)
        inner.names.add(name)  # (loops open no scope: a LET in the body is known after the loop)
    elif head == "WHILE":
        m = _WHILE.match(text)
        if m is None or not m.group("cond").strip():
            raise ScriptingError("expected WHILE (<condition>) DO", offset)
        cond = m.group("cond").strip()
        closing = ("END WHILE",) if m.group("kw").upper() == "DO" else ("END LOOP",)
    else:
        m = _OPENER.match(text)
        assert m is not None
        closing = ("UNTIL",) if head == "REPEAT" else ("END LOOP",)
    reader.put(m, "rest", offset)
    closed_by = "UNTIL (<condition>) END REPEAT" if head == "REPEAT" else closing[0]
    body = _statements(reader, inner, frozenset(closing), (head, closed_by, opened))
    text, offset = reader.take()
    if head == "REPEAT":
        until = _UNTIL.match(text)
        if until is None or not until.group("cond").strip():
            raise ScriptingError("expected UNTIL (<condition>) END REPEAT", offset)
        cond, label = until.group("cond").strip(), until.group("label")
        if not re.search(r"\bEND\s+REPEAT\b", text, re.I):  # UNTIL (<cond>); END REPEAT;
            text, offset = reader.take() if reader.peek() is not None else ("", offset)
            if _closer(text) != "END REPEAT":
                raise ScriptingError("expected END REPEAT after UNTIL (<condition>)", offset)
            label = _end_label(text)
    else:
        label = _end_label(text)
    text_of = start if head == "FOR" else cond
    return Step(
        _LOOP_KINDS[head], text_of, opened, name=name, body=body, label=label, end=end, reverse=reverse
    )


_LOOP_KINDS: dict[str, StepKind] = {"FOR": "for", "WHILE": "while", "REPEAT": "repeat", "LOOP": "loop"}


def _each(m: re.Match[str], offset: int, reader: _Reader, scope: _Scope) -> Step:
    """``FOR <row> IN <cursor or RESULTSET> DO ... END FOR`` (or Databend's ``FOR <row> IN SELECT
    ... DO``, its query run when the loop starts): the row's fields are ``<row>.<column>``."""
    source = m.group("source").strip() if m.re is _FOR_QUERY else m.group("source").lower()
    if m.re is _FOR_CURSOR and source not in scope.cursors and source not in scope.resultsets:
        raise ScriptingError(
            f"{m.group('source')} is not a cursor or RESULTSET: declare it <name> CURSOR FOR <query>",
            offset + m.start("source"),
        )
    closing = "END FOR" if m.group("kw").upper() == "DO" else "END LOOP"
    reader.put(m, "rest", offset)
    body = _statements(reader, scope, frozenset({closing}), ("FOR", closing, offset))
    end, _ = reader.take()
    return Step("each", source, offset, name=m.group("name").lower(), body=body, label=_end_label(end))


def _end_label(text: str) -> str | None:
    m = _END.match(text)
    return m.group("label").lower() if m is not None and m.group("label") else None


def _check_jumps(steps: tuple[Step, ...], labels: list[str | None]) -> None:
    """BREAK and CONTINUE are inside a loop, and a label they name is an enclosing loop's."""
    for step in steps:
        if step.kind in ("break", "continue"):
            word = step.kind.upper()
            if not labels:
                raise ScriptingError(f"{word} outside a loop: {word} ends or continues a loop", step.offset)
            if step.name is not None and step.name not in labels:
                raise ScriptingError(
                    f"{word} {step.name}: no enclosing loop is labelled {step.name} (a label follows the"
                    " loop's END: END WHILE <label>;)",
                    step.offset,
                )
        inner = [*labels, step.label] if step.kind in LOOPS else labels
        for _, branch in step.branches:
            _check_jumps(branch, inner)
        _check_jumps(step.body, inner)
        for handler in step.handlers:
            _check_jumps(handler.steps, inner)


def _pieces(text: str, at: int) -> list[tuple[str, int]]:
    try:
        found = split(text)
    except TasksqlError as err:
        raise ScriptingError(err.message, at + (err.span.start if err.span else 0)) from None
    return [
        (p.text.strip(), at + p.start + len(p.text) - len(p.text.lstrip())) for p in found if p.text.strip()
    ]
