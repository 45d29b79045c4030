"""The one property table: every task property, how it is written, parsed and printed.

``CREATE TASK``, ``ALTER TASK ... SET`` and ``ALTER TASK ... UNSET`` all go through this table, so
a property is spelled, typed and validated the same way everywhere. Each :class:`Property` maps
its keyword(s) to one :class:`~tasksql.model.TaskDef` field; several keywords may map to the same
field (``TIMEOUT`` and ``USER_TASK_TIMEOUT_MS``), and the ``canonical`` one is used to print it.
The table's order is the order ``SHOW CREATE TASK`` prints properties in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tasksql.errors import ValidationError
from tasksql.model import MAX_TIMEOUT_MS, CatchUp, DstPolicy, OnError, OverlapPolicy, RunOn
from tasksql.sql.cursor import Cursor
from tasksql.sql.names import (
    parse_integration_name,
    parse_name,
    parse_simple_name,
    quote_string,
    render_exact,
    render_name,
    render_simple,
)
from tasksql.sql.render_values import (
    render_compact_interval,
    render_interval,
    render_json,
    render_schedule,
)
from tasksql.sql.schedule_values import parse_schedule_value
from tasksql.sql.tokens import TokenKind
from tasksql.sql.values import (
    parse_bool,
    parse_choice,
    parse_float,
    parse_int,
    parse_interval,
    parse_json,
    parse_string,
    parse_string_list,
    parse_word_or_string,
)

LOG_LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL", "OFF")


@dataclass(frozen=True, kw_only=True)
class Property:
    """One way of writing one task property.

    :param words: the keyword(s), e.g. ``("USER_TASK_TIMEOUT_MS",)`` or ``("ON", "ERROR")``.
    :param field: the TaskDef field it sets.
    :param parse: reads the value (the cursor is past the keywords and the optional ``=``).
    :param render: prints a value of ``field`` (only used when ``canonical``).
    :param equals: ``"required"`` (``KEY = value``), ``"optional"`` (``SCHEDULE 5s`` too) or
        ``"none"`` (a clause: ``ON ERROR STOP``, ``INTO target``).
    :param canonical: this spelling prints the field.
    :param in_create, in_set, in_unset: where the property may be written.
    :param evidence: the spelling (see :class:`~tasksql.model.Spelling`) that writing it implies.
    :param bare_evidence: the spelling implied when written without ``=``.
    :param summary: one line for the reference documentation.
    """

    words: tuple[str, ...]
    field: str
    parse: Callable[[Cursor], Any]
    render: Callable[[Any], str]
    equals: str = "required"
    canonical: bool = True
    in_create: bool = True
    in_set: bool = True
    in_unset: bool = True
    evidence: str | None = None
    bare_evidence: str | None = None
    summary: str = ""

    @property
    def key(self) -> str:
        """The name used in UNSET lists and messages: the words joined by ``_``."""
        return "_".join(self.words)

    def clause(self, value: Any) -> str:
        """``KEY = value`` or, for clause spellings, ``WORDS value``."""
        if self.equals == "none":
            return f"{' '.join(self.words)} {self.render(value)}".rstrip()
        return f"{self.key} = {self.render(value)}"


def _enum_parser(enum: type[Any], what: str) -> Callable[[Cursor], Any]:
    choices = tuple(str(m.value) for m in enum)
    return lambda cur: enum(parse_choice(cur, what, choices))


def _int(what: str, minimum: int, maximum: int | None = None) -> Callable[[Cursor], int]:
    return lambda cur: parse_int(cur, what, minimum=minimum, maximum=maximum)


def _interval(cur: Cursor) -> int:
    return parse_interval(cur)


def _overlap_from_bool(cur: Cursor) -> OverlapPolicy:
    return OverlapPolicy.ALLOW_CHILD_OVERLAP if parse_bool(cur) else OverlapPolicy.NO_OVERLAP


def _string(cur: Cursor) -> str:
    return parse_string(cur)


def _warehouse(cur: Cursor) -> str:
    """A warehouse name. A plain name written as a string (``WAREHOUSE = 'default'``) is Databend's
    spelling: Snowflake writes the warehouse as an identifier (and tasksql prints it as one, double-quoted
    where it needs quotes, but in the Databend spelling)."""
    tok = cur.peek()
    if tok is not None and tok.kind is TokenKind.STRING:
        cur.flags.add("databend")
    return parse_simple_name(cur, "warehouse name")[0]


def _node_id(cur: Cursor) -> str:
    """A node id (``NODE = 'n1'``): a string, a quoted identifier or a bare word, kept exactly as
    written (node ids are those ``tasksql serve --node-id`` gives, case and all, as in Ocient's
    ``LOCATION NODE n1``)."""
    tok = parse_word_or_string(cur, "a node id")
    if not tok.text.strip():
        raise cur.error(
            "a node id cannot be empty: give the id of a node (tasksql serve --node-id ID)",
            at=tok,
            code="INVALID_VALUE",
            cls=ValidationError,
        )
    return tok.text


def _retry_on(cur: Cursor) -> tuple[str, ...]:
    values = parse_string_list(cur, "a SQLSTATE or LIKE pattern")
    return tuple(v.strip().upper() for v in values)


def _render_strings(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(quote_string(v) for v in values) + ")"


def _enum_value(value: Any) -> str:
    return str(value.value)


def _quoted_enum(value: Any) -> str:
    return quote_string(str(value.value))


#: Snowflake's serverless task sizes (the docs' spellings with and without the hyphen); XXLARGE is
#: the largest a serverless task may use.
WAREHOUSE_SIZES = (
    "XSMALL",
    "X-SMALL",
    "SMALL",
    "MEDIUM",
    "LARGE",
    "XLARGE",
    "X-LARGE",
    "XXLARGE",
    "X2LARGE",
    "2X-LARGE",
)

PROPERTIES: tuple[Property, ...] = (
    Property(
        words=("WAREHOUSE",),
        field="warehouse",
        parse=_warehouse,
        render=render_exact,  # a folded name: "my-wh" reads back the same, and says no spelling
        summary="the warehouse the body runs in (default: the embedded DuckDB warehouse)",
    ),
    Property(
        words=("AFTER_ANY_GRAPH",),
        field="after_any_graph",
        parse=parse_bool,
        render=lambda v: "TRUE" if v else "FALSE",
        summary="TRUE: with several predecessors the task runs once each has succeeded since its last"
        " run, whatever graphs they belong to (Databend's AFTER; set for AFTER written the Databend way)",
    ),
    Property(
        words=("NODE",),
        field="node",
        parse=_node_id,
        render=quote_string,
        summary="the cluster node the task runs on, and only there; it waits while that node is down",
    ),
    Property(
        words=("USER_TASK_MANAGED_INITIAL_WAREHOUSE_SIZE",),
        field="managed_warehouse_size",
        parse=lambda cur: parse_choice(cur, "USER_TASK_MANAGED_INITIAL_WAREHOUSE_SIZE", WAREHOUSE_SIZES),
        render=quote_string,
        summary="Snowflake serverless size, XSMALL to XXLARGE; accepted and shown, tasksql runs in the"
        " default warehouse",
    ),
    Property(
        words=("SCHEDULE",),
        field="schedule",
        parse=parse_schedule_value,
        render=render_schedule,
        equals="optional",
        bare_evidence="timeplus",
        summary="when the task runs: an interval, a cron expression with time zone, DELAY or FROM CLASS",
    ),
    Property(
        words=("ON", "SCHEDULE"),
        field="schedule",
        parse=parse_schedule_value,
        render=render_schedule,
        equals="none",
        canonical=False,
        in_set=False,
        in_unset=False,
        evidence="voltdb",
        summary="VoltDB spelling of SCHEDULE: CRON, EVERY, DELAY or FROM CLASS",
    ),
    Property(
        words=("CONFIG",),
        field="config",
        parse=lambda cur: parse_json(cur, "CONFIG"),
        render=render_json,
        summary="a JSON object the task graph can read; EXECUTE TASK ... USING CONFIG overrides it",
    ),
    Property(
        words=("OVERLAP_POLICY",),
        field="overlap_policy",
        parse=_enum_parser(OverlapPolicy, "OVERLAP_POLICY"),
        render=_enum_value,
        summary="NO_OVERLAP (default), ALLOW_CHILD_OVERLAP or ALLOW_ALL_OVERLAP",
    ),
    Property(
        words=("ALLOW_OVERLAPPING_EXECUTION",),
        field="overlap_policy",
        parse=_overlap_from_bool,
        render=_enum_value,
        canonical=False,
        summary="TRUE means OVERLAP_POLICY = ALLOW_CHILD_OVERLAP, FALSE means NO_OVERLAP",
    ),
    Property(
        words=("USER_TASK_TIMEOUT_MS",),
        field="timeout_ms",
        parse=_int("USER_TASK_TIMEOUT_MS", 0, MAX_TIMEOUT_MS),
        render=str,
        summary="the longest a run may take, in milliseconds, 0 to 604800000 (7 days); 0 means the"
        " maximum (default 3600000)",
    ),
    Property(
        words=("TIMEOUT",),
        field="timeout_ms",
        parse=_interval,
        render=render_compact_interval,
        equals="optional",
        canonical=False,
        evidence="timeplus",
        summary="Timeplus spelling of the timeout, as an interval: TIMEOUT 2s",
    ),
    Property(
        words=("SUSPEND_TASK_AFTER_NUM_FAILURES",),
        field="suspend_after_failures",
        parse=_int("SUSPEND_TASK_AFTER_NUM_FAILURES", 0),
        render=str,
        summary="consecutive failed runs before the task is suspended; 0 = never (default 10)",
    ),
    Property(
        words=("TASK_AUTO_RETRY_ATTEMPTS",),
        field="auto_retry_attempts",
        parse=_int("TASK_AUTO_RETRY_ATTEMPTS", 0, 30),
        render=str,
        summary="how many times a failed run is retried, 0 to 30 (default 0)",
    ),
    Property(
        words=("TASK_AUTO_RETRY_DELAY",),
        field="retry_delay_ms",
        parse=_interval,
        render=lambda v: quote_string(render_interval(v)),
        summary="wait before the first retry",
    ),
    Property(
        words=("TASK_AUTO_RETRY_BACKOFF",),
        field="retry_backoff",
        parse=lambda cur: parse_float(cur, "TASK_AUTO_RETRY_BACKOFF", minimum=1.0),
        render=repr,
        summary="factor the retry delay grows by after each attempt (default 1: constant delay)",
    ),
    Property(
        words=("TASK_AUTO_RETRY_MAX_DELAY",),
        field="retry_max_delay_ms",
        parse=_interval,
        render=lambda v: quote_string(render_interval(v)),
        summary="upper bound of the retry delay",
    ),
    Property(
        words=("TASK_AUTO_RETRY_ON",),
        field="retry_on",
        parse=_retry_on,
        render=_render_strings,
        summary="retry only errors whose SQLSTATE matches one of these LIKE patterns",
    ),
    Property(
        words=("MAX_CONCURRENT_RUNS",),
        field="max_concurrent_runs",
        parse=_int("MAX_CONCURRENT_RUNS", 1),
        render=str,
        summary="bound on overlapping runs when the overlap policy allows them (default 8)",
    ),
    Property(
        words=("ERROR_INTEGRATION",),
        field="error_integration",
        parse=lambda cur: parse_integration_name(cur)[0],
        render=render_simple,
        summary="notification integration told about failed runs",
    ),
    Property(
        words=("SUCCESS_INTEGRATION",),
        field="success_integration",
        parse=lambda cur: parse_integration_name(cur)[0],
        render=render_simple,
        summary="notification integration told about successful runs",
    ),
    Property(
        words=("LOG_LEVEL",),
        field="log_level",
        parse=lambda cur: parse_choice(cur, "LOG_LEVEL", LOG_LEVELS),
        render=quote_string,
        summary="TRACE, DEBUG, INFO, WARN, ERROR, FATAL or OFF",
    ),
    Property(words=("COMMENT",), field="comment", parse=_string, render=quote_string, summary="free text"),
    Property(
        words=("FINALIZE",),
        field="finalize",
        parse=lambda cur: parse_name(cur, "root task name")[0],
        render=render_name,
        summary="makes this task the finalizer of the named root task",
    ),
    Property(
        words=("USER_TASK_MINIMUM_TRIGGER_INTERVAL_IN_SECONDS",),
        field="min_trigger_interval_s",
        parse=_int("USER_TASK_MINIMUM_TRIGGER_INTERVAL_IN_SECONDS", 10, 604_800),
        render=str,
        summary="minimum gap between runs of a triggered task, 10 to 604800 seconds (a week)",
    ),
    Property(
        words=("DST_POLICY",),
        field="dst_policy",
        parse=_enum_parser(DstPolicy, "DST_POLICY"),
        render=_quoted_enum,
        summary="STANDARD (default) or SNOWFLAKE: cron behaviour at DST changes",
    ),
    Property(
        words=("CATCH_UP",),
        field="catch_up",
        parse=_enum_parser(CatchUp, "CATCH_UP"),
        render=_enum_value,
        summary="NONE (default), LATEST or ALL: what happens to instants missed while down",
    ),
    Property(
        words=("CATCH_UP_WINDOW",),
        field="catch_up_window_ms",
        parse=_interval,
        render=lambda v: quote_string(render_interval(v)),
        summary="how far back missed instants are caught up (default 1 hour)",
    ),
    Property(
        words=("HISTORY_RETENTION",),
        field="history_retention_ms",
        parse=_interval,
        render=lambda v: quote_string(render_interval(v)),
        summary="how long run history is kept",
    ),
    Property(
        words=("ON", "ERROR"),
        field="on_error",
        parse=_enum_parser(OnError, "ON ERROR"),
        render=_enum_value,
        equals="none",
        in_set=False,
        in_unset=False,
        evidence="voltdb",
        summary="STOP (suspend at the first error), LOG or IGNORE (VoltDB)",
    ),
    Property(
        words=("RUN", "ON"),
        field="run_on",
        parse=_enum_parser(RunOn, "RUN ON"),
        render=_enum_value,
        equals="none",
        in_unset=False,
        evidence="voltdb",
        summary="DATABASE, PARTITIONS or HOSTS (VoltDB); tasksql runs one instance per run",
    ),
    Property(
        words=("AS", "USER"),
        field="run_as_user",
        parse=lambda cur: parse_simple_name(cur, "user name", fold=False)[0],
        render=render_exact,
        equals="none",
        in_set=False,
        in_unset=False,
        evidence="voltdb",
        summary="the user the body runs as (VoltDB)",
    ),
    Property(
        words=("EXECUTE", "AS", "USER"),
        field="run_as_user",
        parse=lambda cur: parse_simple_name(cur, "user name", fold=False)[0],
        render=render_exact,
        equals="none",
        canonical=False,
        in_unset=False,  # UNSET EXECUTE AS USER: three words, read by the UNSET parser
        summary="Snowflake: the user whose privileges the task runs with (VoltDB's AS USER)",
    ),
    Property(
        words=("INTO",),
        field="into",
        parse=lambda cur: parse_name(cur, "target stream")[0],
        render=render_name,
        equals="none",
        evidence="timeplus",
        summary="Timeplus: the stream or table the SELECT's rows are inserted into",
    ),
    Property(
        words=("CREATE", "IF", "NOT", "EXISTS"),
        field="into_create",
        parse=lambda cur: True,
        render=lambda value: "",
        equals="none",
        in_set=False,
        in_unset=False,
        summary="after INTO another warehouse's table: a run creates the table from its query's columns"
        " when it does not exist",
    ),
)

#: (key, key, only when the values differ): properties that cannot be written together.
CONFLICTS: tuple[tuple[str, str, bool], ...] = (
    ("WAREHOUSE", "USER_TASK_MANAGED_INITIAL_WAREHOUSE_SIZE", False),
    ("TIMEOUT", "USER_TASK_TIMEOUT_MS", False),
    ("ALLOW_OVERLAPPING_EXECUTION", "OVERLAP_POLICY", True),
)

BY_KEY: dict[str, Property] = {p.key: p for p in PROPERTIES}
CANONICAL: dict[str, Property] = {p.field: p for p in PROPERTIES if p.canonical}

#: Keys written as ``KEY = value`` (the candidates for "did you mean ...?").
ASSIGNABLE_KEYS: tuple[str, ...] = tuple(p.key for p in PROPERTIES if p.equals != "none")


#: The properties by their first keyword (match_property is called at every clause).
_BY_FIRST_WORD: dict[str, tuple[Property, ...]] = {
    word: tuple(p for p in PROPERTIES if p.words[0] == word) for word in {p.words[0] for p in PROPERTIES}
}


def match_property(cur: Cursor) -> Property | None:
    """The property whose keywords come next (the longest match), or None.

    A property written ``KEY = value`` only matches when ``=`` follows its keyword.
    """
    tok = cur.peek()
    if tok is None or tok.kind is not TokenKind.WORD:
        return None
    best: Property | None = None
    for prop in _BY_FIRST_WORD.get(tok.upper, ()):
        if not cur.at(*prop.words):
            continue
        if prop.equals == "required" and not cur.at(*prop.words, "="):
            continue
        if best is None or len(prop.words) > len(best.words):
            best = prop
    return best


def unset_property(name: str) -> Property | None:
    """The property an UNSET list item names (by key, e.g. ``USER_TASK_TIMEOUT_MS``)."""
    return BY_KEY.get(name.upper())


def conflicts_with(key: str) -> list[tuple[str, bool]]:
    """The keys that ``key`` conflicts with, each with its "only when different" flag."""
    out: list[tuple[str, bool]] = []
    for a, b, when_different in CONFLICTS:
        if key == a:
            out.append((b, when_different))
        elif key == b:
            out.append((a, when_different))
    return out


def edit_distance(a: str, b: str) -> int:
    """Optimal string alignment distance (a transposition counts as one edit)."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[len(b)]


def suggest(key: str, candidates: tuple[str, ...] = ASSIGNABLE_KEYS) -> str | None:
    """The known key within edit distance 2 of ``key`` (closest first), if any.

    Keys shorter than four letters are never "corrected": a short session parameter is too likely
    to be near some keyword by chance.
    """
    upper = key.upper()
    if len(upper) < 4:
        return None
    scored = sorted((edit_distance(upper, c), c) for c in candidates if abs(len(c) - len(upper)) <= 2)
    if scored and scored[0][0] <= 2:
        return scored[0][1]
    return None
