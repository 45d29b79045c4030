"""Custom Python schedules (VoltDB ON SCHEDULE FROM CLASS): loading, arguments, results and errors."""

from __future__ import annotations

import itertools
import textwrap
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tasksql.errors import ScheduleError
from tasksql.model import CustomSchedule, RunState
from tasksql.schedules import PreviousRun, PythonSchedule, build, check, next_runs
from tasksql.schedules.examples import Backoff

_counter = itertools.count()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


ANCHOR = at("2025-06-06T10:00:00+00:00")  # a Friday


@pytest.fixture
def module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], str]:
    """Write Python source as a fresh importable module; return the module's name."""
    monkeypatch.syspath_prepend(str(tmp_path))

    def write(source: str) -> str:
        name = f"user_schedules_{next(_counter)}"
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
        return name

    return write


EVERY_MINUTE = """
    from datetime import timedelta

    class EveryMinute:
        def __init__(self, *args):
            self.args = args

        def next_fire(self, after, *, last_end=None):
            return after + timedelta(minutes=1)
"""


def test_weekdays_only_example_with_a_dotted_path() -> None:
    spec = CustomSchedule("tasksql.schedules.examples.WeekdaysOnly", ("'09:30'", "'Europe/Berlin'"))
    # From Friday 2025-06-06 12:00 Berlin: next runs Monday and Tuesday 09:30 CEST (07:30Z).
    fires = next_runs(spec, 2, after=ANCHOR)
    assert [(f.utc.isoformat(), f.local.isoformat(), f.note) for f in fires] == [
        ("2025-06-09T07:30:00+00:00", "2025-06-09T07:30:00+00:00", None),
        ("2025-06-10T07:30:00+00:00", "2025-06-10T07:30:00+00:00", None),
    ]
    assert build(spec, anchor=ANCHOR).describe() == "at 09:30 on weekdays (Europe/Berlin)"


def test_backoff_example_with_a_colon_path_sees_the_previous_result() -> None:
    schedule = build(CustomSchedule("tasksql.schedules.examples:Backoff", ("60", "600")), anchor=ANCHOR)
    ok = PreviousRun(state=RunState.SUCCEEDED)
    failed = PreviousRun(state=RunState.FAILED, error="connection refused")
    end = at("2025-06-06T10:00:00+00:00")
    sequence = []
    for result in (ok, failed, failed, failed, failed, failed, ok):
        nxt = schedule.next_fire(end, last_end=end, last_result=result)
        assert nxt is not None
        sequence.append(nxt.isoformat())
        end = nxt + timedelta(seconds=5)  # each run takes 5 s
    # Waits: 60 s after success, then 120, 240, 480, 600 (capped), 600, and 60 again after a success.
    assert sequence == [
        "2025-06-06T10:01:00+00:00",
        "2025-06-06T10:03:05+00:00",
        "2025-06-06T10:07:10+00:00",
        "2025-06-06T10:15:15+00:00",
        "2025-06-06T10:25:20+00:00",
        "2025-06-06T10:35:25+00:00",
        "2025-06-06T10:36:30+00:00",
    ]


def test_backoff_counts_each_previous_run_once() -> None:
    schedule = PythonSchedule("tasksql.schedules.examples.Backoff", ("60", "3600"))
    failed = PreviousRun(state=RunState.FAILED)
    end = at("2025-06-06T10:00:00+00:00")
    first = schedule.next_fire(end, last_end=end, last_result=failed)
    again = schedule.next_fire(end, last_end=end, last_result=failed)
    assert first == again == at("2025-06-06T10:02:00+00:00")
    assert isinstance(schedule.instance, Backoff)
    assert schedule.instance.failures == 1


def test_arguments_are_sql_literals(module: Callable[[str], str]) -> None:
    name = module(EVERY_MINUTE)
    args = ("'it''s'", "12", "-3", "1.5", "2e3", "TRUE", "false", "NULL", "''")
    schedule = PythonSchedule(f"{name}.EveryMinute", args)
    assert schedule.instance.args == ("it's", 12, -3, 1.5, 2000.0, True, False, None, "")
    assert schedule.next_fire(ANCHOR) == at("2025-06-06T10:01:00+00:00")
    assert (
        schedule.describe()
        == f"custom schedule {name}.EveryMinute('it''s', 12, -3, 1.5, 2e3, TRUE, false, NULL, '')"
    )


def test_last_result_is_passed_only_to_methods_that_accept_it(module: Callable[[str], str]) -> None:
    name = module(
        """
        from datetime import timedelta

        class Plain:
            def next_fire(self, after, *, last_end):
                return after + timedelta(seconds=1)

        class Open:
            seen = None
            def next_fire(self, after, **kwargs):
                Open.seen = kwargs
                return after + timedelta(seconds=1)
        """
    )
    failed = PreviousRun(state=RunState.FAILED)
    plain = PythonSchedule(f"{name}:Plain")
    assert plain.next_fire(ANCHOR, last_result=failed) == at("2025-06-06T10:00:01+00:00")
    opened = PythonSchedule(f"{name}:Open")
    opened.next_fire(ANCHOR, last_end=ANCHOR, last_result=failed)
    assert opened.instance.seen == {"last_end": ANCHOR, "last_result": failed}


def test_returning_none_ends_the_schedule(module: Callable[[str], str]) -> None:
    name = module(
        """
        from datetime import datetime, timezone

        class Twice:
            def next_fire(self, after, *, last_end=None):
                for hour in (9, 10):
                    t = datetime(2025, 6, 6, hour, tzinfo=timezone.utc)
                    if t > after:
                        return t
                return None
        """
    )
    fires = next_runs(CustomSchedule(f"{name}.Twice"), 5, after=at("2025-06-06T00:00:00+00:00"))
    assert [f.utc.isoformat() for f in fires] == ["2025-06-06T09:00:00+00:00", "2025-06-06T10:00:00+00:00"]


def test_an_aware_result_in_another_zone_is_converted_to_utc(module: Callable[[str], str]) -> None:
    name = module(
        """
        from datetime import timedelta
        from zoneinfo import ZoneInfo

        class Tokyo:
            def next_fire(self, after, *, last_end=None):
                return (after + timedelta(hours=1)).astimezone(ZoneInfo("Asia/Tokyo"))
        """
    )
    nxt = PythonSchedule(f"{name}.Tokyo").next_fire(ANCHOR)
    assert nxt is not None
    assert nxt.isoformat() == "2025-06-06T11:00:00+00:00"
    assert nxt.tzinfo is UTC


def test_check_validates_spelling_without_importing() -> None:
    check(CustomSchedule("not.installed.anywhere.Cls", ("1", "'x'")))
    check(CustomSchedule("pkg.mod:Outer.Inner"))


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            CustomSchedule("Backoff"),
            "custom schedule class 'Backoff' must name a module and a class, such as "
            "'mypackage.schedules.Backoff' or 'mypackage.schedules:Backoff'",
        ),
        (CustomSchedule("pkg.mod."), None),
        (CustomSchedule("pkg..mod"), None),
        (CustomSchedule("pkg.mod:"), None),
        (CustomSchedule("1pkg.mod"), None),
        (
            CustomSchedule("pkg.Cls", ("60", "abc")),
            "argument 2: 'abc' is not a SQL literal (a 'string', a number, TRUE, FALSE or NULL)",
        ),
        (CustomSchedule("pkg.Cls", ("'unterminated",)), None),
    ],
)
def test_check_errors(spec: CustomSchedule, message: str | None) -> None:
    with pytest.raises(ScheduleError) as err:
        check(spec)
    assert err.value.code == "INVALID_SCHEDULE"
    if message is not None:
        assert err.value.message == message


def build_error(class_path: str, args: tuple[str, ...] = ()) -> ScheduleError:
    with pytest.raises(ScheduleError) as err:
        build(CustomSchedule(class_path, args), anchor=ANCHOR)
    assert err.value.code == "INVALID_SCHEDULE"
    return err.value


def test_missing_module() -> None:
    err = build_error("no_such_module_anywhere.Cls")
    assert err.message == (
        "cannot import module 'no_such_module_anywhere' for custom schedule "
        "'no_such_module_anywhere.Cls': No module named 'no_such_module_anywhere'"
    )


def test_module_that_fails_on_import(module: Callable[[str], str]) -> None:
    name = module("x = 1 / 0\n")
    assert "division by zero" in build_error(f"{name}.Cls").message


def test_missing_class(module: Callable[[str], str]) -> None:
    name = module(EVERY_MINUTE)
    assert build_error(f"{name}.Nope").message == f"module '{name}' has no class 'Nope'"


def test_not_a_class(module: Callable[[str], str]) -> None:
    name = module("def f():\n    pass\n")
    assert build_error(f"{name}.f").message == f"'{name}.f' is not a class"


def test_constructor_failure() -> None:
    err = build_error("tasksql.schedules.examples.Backoff", ("0", "10"))
    assert err.message == (
        "custom schedule tasksql.schedules.examples.Backoff(0, 10) could not be created: "
        "ValueError: need 0 < every_s <= max_s"
    )


def test_wrong_number_of_arguments() -> None:
    err = build_error("tasksql.schedules.examples.Backoff", ("1", "2", "3"))
    assert "could not be created: TypeError" in err.message


def test_class_without_next_fire(module: Callable[[str], str]) -> None:
    name = module("class Nothing:\n    pass\n")
    assert build_error(f"{name}.Nothing").message == (
        f"custom schedule class {name}.Nothing has no next_fire(after, *, last_end) method"
    )


def test_next_fire_without_last_end(module: Callable[[str], str]) -> None:
    name = module("class Old:\n    def next_fire(self, after):\n        return None\n")
    assert (
        build_error(f"{name}.Old").message
        == f"{name}.Old.next_fire must accept the keyword argument last_end"
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("raise RuntimeError('no data')", "custom schedule {cls} failed: RuntimeError: no data"),
        ("return 42", "custom schedule {cls} returned 42, not a datetime or None"),
        (
            "return datetime(2030, 1, 1)",
            "custom schedule {cls} returned the naive datetime 2030-01-01T00:00:00; "
            "return an aware one (for example in UTC)",
        ),
        (
            "return after",
            "custom schedule {cls} returned 2025-06-06T10:00:00+00:00, "
            "which is not after 2025-06-06T10:00:00+00:00",
        ),
        (
            "return after - timedelta(seconds=1)",
            "custom schedule {cls} returned 2025-06-06T09:59:59+00:00, "
            "which is not after 2025-06-06T10:00:00+00:00",
        ),
    ],
)
def test_bad_results_are_schedule_errors(module: Callable[[str], str], body: str, message: str) -> None:
    name = module(
        f"""
        from datetime import datetime, timedelta

        class Bad:
            def next_fire(self, after, *, last_end=None):
                {body}
        """
    )
    schedule = PythonSchedule(f"{name}.Bad")
    with pytest.raises(ScheduleError) as err:
        schedule.next_fire(ANCHOR)
    assert err.value.code == "INVALID_SCHEDULE"
    assert err.value.message == message.format(cls=f"{name}.Bad")


def test_describe_falls_back_to_the_class_path(module: Callable[[str], str]) -> None:
    name = module(
        EVERY_MINUTE
        + """
    class Broken(EveryMinute):
        def describe(self):
            raise RuntimeError
    """
    )
    assert PythonSchedule(f"{name}.EveryMinute").describe() == f"custom schedule {name}.EveryMinute"
    assert PythonSchedule(f"{name}.Broken").describe() == f"custom schedule {name}.Broken"
    assert PythonSchedule(f"{name}.Broken").kind == "custom"
