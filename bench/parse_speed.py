"""How fast scripts are split and parsed (not a test: run it by hand).

    python bench/parse_speed.py [--size 1000000] [--repeat 3]

Scripts of about ``--size`` characters: one long ``INSERT ... VALUES``, many small INSERTs (each
with a comment), many ``CREATE TASK`` statements with ``BEGIN ... END`` bodies, and one
``CREATE TASK`` whose body is the whole size (a long ``INSERT ... VALUES``, a ``BEGIN ... END``
block of many statements, a dollar-quoted string). For each: the best of ``--repeat`` runs of
``split`` (the scanner: statements for the warehouse are never tokenized), ``parse`` (split, then
the heads of tasksql's own statements tokenized and parsed; a task body is not tokenized),
``render`` (``SHOW CREATE TASK`` of the one big task) and, for comparison, ``tokenize`` (sqlglot's
tokenizer over the whole text, which parsing used to need). Prints seconds and megabytes per second.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from tasksql.sql import parse, render_task, split, tokenize
from tasksql.sql.statements import CreateTask


def scripts(size: int) -> dict[str, str]:
    rows, out = [], []
    i = 0
    while sum(map(len, rows)) < size:
        rows.append(f"({i}, 'name {i}', {i}.5)")
        i += 1
    out.append(("one INSERT ... VALUES", "INSERT INTO t VALUES " + ",".join(rows)))
    small: list[str] = []
    i = 0
    while sum(map(len, small)) < size:
        small.append(f"INSERT INTO t VALUES ({i}, 'x'); -- row {i}\n")
        i += 1
    out.append(("small INSERTs", "".join(small)))
    tasks: list[str] = []
    i = 0
    while sum(map(len, tasks)) < size:
        tasks.append(f"CREATE TASK t{i} SCHEDULE = '1 minute' AS BEGIN INSERT INTO log SELECT {i}; END;\n")
        i += 1
    out.append(("CREATE TASK ... BEGIN ... END", "".join(tasks)))
    head = "CREATE TASK big SCHEDULE = '1 minute' AS "
    out.append(("one task: AS INSERT ... VALUES", head + out[0][1]))
    out.append(("one task: AS BEGIN ... END", head + "BEGIN\n" + out[1][1] + "END"))
    out.append(("one task: AS $$ ... $$", head + "$$" + out[1][1] + "$$"))
    return dict(out)


def render_big_task(text: str) -> None:
    stmt = parse(text)[0]
    if isinstance(stmt, CreateTask):
        render_task(stmt.definition)


def best(fn: Callable[[str], object], text: str, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn(text)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    print(
        f"{'script':32} {'chars':>9} {'split s':>8} {'parse s':>8} {'render s':>8} {'tokenize s':>10}"
        f" {'parse MB/s':>10}"
    )
    for label, text in scripts(args.size).items():
        s = best(split, text, args.repeat)
        p = best(parse, text, args.repeat)
        r = " " * 8
        if label.startswith("one task"):
            r = f"{best(render_big_task, text, args.repeat) - p:>8.3f}"  # parse and render, less parse
        t = best(tokenize, text, 1)
        print(f"{label:32} {len(text):>9} {s:>8.3f} {p:>8.3f} {r} {t:>10.3f} {len(text) / p / 1e6:>10.1f}")


if __name__ == "__main__":
    main()
