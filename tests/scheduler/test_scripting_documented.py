"""Snowflake Scripting blocks of Snowflake's documentation (blocks, variables, branch, loops,
cursors, resultsets, exceptions pages) are accepted at CREATE TASK on DuckDB, SQLite and
PostgreSQL warehouses: their statements, queries and expressions pass each warehouse's parser
(a check that must never refuse a valid block). Real engine and servers."""

from __future__ import annotations

from pathlib import Path

import pytest
from sched_harness import Harness

from pgserver import PgDatabase

DOC_BLOCKS = [
    """DECLARE
  counter INTEGER DEFAULT 0;
  maximum_count INTEGER default 5;
BEGIN
  FOR i IN 1 TO maximum_count DO
    counter := counter + 1;
  END FOR;
  RETURN counter;
END;""",
    """DECLARE
  total_price FLOAT;
  c1 CURSOR FOR SELECT price FROM invoices;
BEGIN
  total_price := 0.0;
  OPEN c1;
  FOR rec IN c1 DO
    total_price := total_price + rec.price;
  END FOR;
  CLOSE c1;
  RETURN total_price;
END;""",
    """BEGIN
  LET count := 4;
  IF (count % 2 = 0) THEN
    RETURN 'even value';
  ELSEIF (count % 2 = 1) THEN
    RETURN 'odd value';
  ELSE
    RETURN 'boolean value';
  END IF;
END;""",
    """DECLARE
  profit number(38, 2) DEFAULT 0.0;
BEGIN
  LET cost number(38, 2) := 100.0;
  LET revenue number(38, 2) DEFAULT 110.0;
  profit := revenue - cost;
  RETURN profit;
END;""",
    """DECLARE
  error_message VARCHAR;
BEGIN
  INSERT INTO t VALUES (1);
EXCEPTION
  WHEN OTHER THEN
    error_message := SQLERRM;
    INSERT INTO error_log VALUES (:error_message);
    RAISE;
END;""",
    """BEGIN
  LET x := 1;
  BEGIN
    LET y := 2;
    RETURN x + y;
  END;
END;""",
    """DECLARE
  my_exception EXCEPTION (-20002, 'Raised MY_EXCEPTION.');
BEGIN
  LET counter := 0;
  LET should_raise_exception := true;
  IF (should_raise_exception) THEN
    RAISE my_exception;
  END IF;
  counter := counter + 1;
  RETURN counter;
EXCEPTION
  WHEN statement_error THEN
    RETURN OBJECT_CONSTRUCT('Error type', 'STATEMENT_ERROR',
                            'SQLCODE', sqlcode,
                            'SQLERRM', sqlerrm,
                            'SQLSTATE', sqlstate);
  WHEN my_exception THEN
    RETURN OBJECT_CONSTRUCT('Error type', 'MY_EXCEPTION',
                            'SQLCODE', sqlcode,
                            'SQLERRM', sqlerrm,
                            'SQLSTATE', sqlstate);
  WHEN OTHER THEN
    RETURN OBJECT_CONSTRUCT('Error type', 'Other error',
                            'SQLCODE', sqlcode,
                            'SQLERRM', sqlerrm,
                            'SQLSTATE', sqlstate);
END;""",
    """BEGIN
  LET inner_counter := 0;
  LET outer_counter := 0;
  LOOP
    LOOP
      IF (inner_counter < 5) THEN
        inner_counter := inner_counter + 1;
        CONTINUE OUTER;
      ELSE
        BREAK OUTER;
      END IF;
    END LOOP INNER;
    outer_counter := outer_counter + 1;
    BREAK;
  END LOOP OUTER;
  RETURN array_construct(outer_counter, inner_counter);
END;""",
    """DECLARE
  res RESULTSET DEFAULT (SELECT * FROM invoices);
BEGIN
  RETURN TABLE(res);
END;""",
    """DECLARE
  v_sql VARCHAR;
BEGIN
  v_sql := 'SELECT 1';
  EXECUTE IMMEDIATE v_sql;
  RETURN 'ok';
END;""",
    """BEGIN
  CREATE TABLE IF NOT EXISTS t (a INT);
  INSERT INTO t VALUES (1);
  RETURN 'Done';
END;""",
    """DECLARE
  x INT DEFAULT 0;
BEGIN
  CASE
    WHEN x = 0 THEN
      x := 1;
    WHEN x = 1 THEN
      x := 2;
  END;
  RETURN x;
END;""",
    """BEGIN
  SELECT 1;
  LET x := 10 / 0;
  RETURN x;
EXCEPTION
  WHEN EXPRESSION_ERROR CONTINUE THEN
    RETURN 'continue';
END;""",
    """DECLARE
  c1 CURSOR FOR SELECT * FROM invoices;
BEGIN
  OPEN c1;
  LET id INTEGER := 0;
  FETCH c1 INTO id;
  CLOSE c1;
  RETURN id;
END;""",
]


@pytest.mark.parametrize("warehouse", ["default", "lite", "pg"])
async def test_documented_blocks_are_accepted_at_create(
    harness: Harness, tmp_path: Path, warehouse: str, request: pytest.FixtureRequest
) -> None:
    h = harness
    if warehouse == "lite":
        await h.sql(f"CREATE WAREHOUSE lite TYPE = sqlite URL = 'sqlite:///{tmp_path}/w.db'")
    if warehouse == "pg":
        pg: PgDatabase = request.getfixturevalue("pg_database")
        await h.sql(f"CREATE WAREHOUSE pg TYPE = postgres URL = '{pg.url}'")
    for i, block in enumerate(DOC_BLOCKS):
        await h.sql(
            f"CREATE TASK t{i} WAREHOUSE = '{warehouse}' SCHEDULE = '1 MINUTE' AS EXECUTE IMMEDIATE $$\n{block}\n$$"
        )
    assert await h.rows("SELECT count(*) FROM system.tasks") == [(len(DOC_BLOCKS),)]
