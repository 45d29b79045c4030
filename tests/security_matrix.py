"""The privilege matrix of the security tests: each statement of the language with the grants it
needs (docs/security.md), for the Python API and the HTTP API to run as a role that has all of them
and as roles that each lack one.

A case's SQL uses ``{n}`` for the variant's own prefix (every variant has its own objects, since a
statement may drop or change them) and ``{r}`` for the role under test. ``setup`` runs first as
ACCOUNTADMIN; then the role gets ``grants`` (all of them, or all but one), a user of that role runs
``sql``, which must succeed with every grant and fail with ``PERMISSION_DENIED`` without any one.
"""

from __future__ import annotations

from dataclasses import dataclass

USE_DB = "GRANT USAGE ON DATABASE tasksql TO ROLE {r}"
USE_SCHEMA = "GRANT USAGE ON SCHEMA tasksql.public TO ROLE {r}"
USE_DEFAULT = 'GRANT USAGE ON WAREHOUSE "default" TO ROLE {r}'
CREATE_TASK = "GRANT CREATE TASK ON SCHEMA tasksql.public TO ROLE {r}"
MANAGE = "GRANT MANAGE GRANTS ON ACCOUNT TO ROLE {r}"
TASK = "CREATE TASK {n}_t SCHEDULE = '60 minutes' AS SELECT 1"
OWN = "GRANT OWNERSHIP ON TASK {n}_t TO ROLE {r}"
WAREHOUSE = "CREATE WAREHOUSE {n}_w MAX_CONCURRENCY = 2"
INTEGRATION = "CREATE NOTIFICATION INTEGRATION {n}_i TYPE = WEBHOOK WEBHOOK = (url = 'http://127.0.0.1:9/x')"
STREAM = ("CREATE TABLE {n}_tb (a INT)", "CREATE STREAM {n}_s ON TABLE {n}_tb")
SECRET = "CREATE SECRET {n}_k TYPE = GENERIC_STRING SECRET_STRING = 'T0/B0/XX'"
OWN_SECRET = "GRANT OWNERSHIP ON SECRET {n}_k TO ROLE {r}"
USE_SECRET = "GRANT USAGE ON SECRET {n}_k TO ROLE {r}"


@dataclass(frozen=True)
class Case:
    sql: str
    grants: tuple[str, ...]
    setup: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return self.sql.split("{n}")[0].strip() or self.sql[:30]


CASES: tuple[Case, ...] = (
    Case(TASK, (USE_DB, USE_SCHEMA, "GRANT CREATE TASK ON SCHEMA tasksql.public TO ROLE {r}", USE_DEFAULT)),
    Case("ALTER TASK {n}_t SUSPEND", ("GRANT OPERATE ON TASK {n}_t TO ROLE {r}",), (TASK,)),
    Case("ALTER TASK {n}_t RESUME", ("GRANT OPERATE ON TASK {n}_t TO ROLE {r}",), (TASK,)),
    Case("ALTER TASK {n}_t SET COMMENT = 'x'", (OWN,), (TASK,)),
    Case("DROP TASK {n}_t", (OWN,), (TASK,)),
    Case("EXECUTE TASK {n}_t", ("GRANT OPERATE ON TASK {n}_t TO ROLE {r}",), (TASK,)),
    Case("CANCEL TASK {n}_t", ("GRANT OPERATE ON TASK {n}_t TO ROLE {r}",), (TASK,)),
    Case("DESCRIBE TASK {n}_t", ("GRANT MONITOR ON TASK {n}_t TO ROLE {r}",), (TASK,)),
    Case("SHOW CREATE TASK {n}_t", ("GRANT MONITOR ON TASK {n}_t TO ROLE {r}",), (TASK,)),
    Case("GRANT MONITOR ON TASK {n}_t TO ROLE {n}_y", (OWN,), (TASK, "CREATE ROLE {n}_y")),
    Case("GRANT OWNERSHIP ON TASK {n}_t TO ROLE {n}_y", (OWN,), (TASK, "CREATE ROLE {n}_y")),
    Case("SELECT 1", (USE_DEFAULT,)),
    Case("CREATE WAREHOUSE {n}_w MAX_CONCURRENCY = 2", ("GRANT CREATE WAREHOUSE ON ACCOUNT TO ROLE {r}",)),
    Case(
        "CREATE NOTIFICATION INTEGRATION {n}_i TYPE = WEBHOOK WEBHOOK = (url = 'http://127.0.0.1:9/x')",
        ("GRANT CREATE INTEGRATION ON ACCOUNT TO ROLE {r}",),
    ),
    Case(
        "CREATE STREAM {n}_s (a int64)",
        (USE_DB, USE_SCHEMA, "GRANT CREATE STREAM ON SCHEMA tasksql.public TO ROLE {r}", USE_DEFAULT),
    ),
    Case("CREATE USER {n}_u", ("GRANT CREATE USER ON ACCOUNT TO ROLE {r}",)),
    Case(
        "ALTER USER {n}_u SET COMMENT = 'x'",
        ("GRANT CREATE USER ON ACCOUNT TO ROLE {r}",),
        ("CREATE USER {n}_u",),
    ),
    Case("DROP USER {n}_u", ("GRANT CREATE USER ON ACCOUNT TO ROLE {r}",), ("CREATE USER {n}_u",)),
    Case("CREATE ROLE {n}_x", ("GRANT CREATE ROLE ON ACCOUNT TO ROLE {r}",)),
    Case("DROP ROLE {n}_x", ("GRANT MANAGE GRANTS ON ACCOUNT TO ROLE {r}",), ("CREATE ROLE {n}_x",)),
    Case(
        "GRANT ROLE {n}_x TO ROLE {n}_y",
        ("GRANT MANAGE GRANTS ON ACCOUNT TO ROLE {r}",),
        ("CREATE ROLE {n}_x", "CREATE ROLE {n}_y"),
    ),
    Case(
        "REVOKE ROLE {n}_x FROM ROLE {n}_y",
        ("GRANT MANAGE GRANTS ON ACCOUNT TO ROLE {r}",),
        ("CREATE ROLE {n}_x", "CREATE ROLE {n}_y", "GRANT ROLE {n}_x TO ROLE {n}_y"),
    ),
    Case(
        'GRANT USAGE ON WAREHOUSE "default" TO ROLE {n}_y',
        ("GRANT MANAGE GRANTS ON ACCOUNT TO ROLE {r}",),
        ("CREATE ROLE {n}_y",),
    ),
    Case(
        "SHOW GRANTS TO ROLE {n}_y", ("GRANT MANAGE GRANTS ON ACCOUNT TO ROLE {r}",), ("CREATE ROLE {n}_y",)
    ),
    Case("USE ROLE {n}_y", ("GRANT ROLE {n}_y TO ROLE {r}",), ("CREATE ROLE {n}_y",)),
    # task statements in their other forms
    Case(
        "CREATE OR REPLACE TASK {n}_t AS SELECT 2",
        (USE_DB, USE_SCHEMA, CREATE_TASK, USE_DEFAULT, OWN),
        (TASK,),
    ),
    Case(
        "CREATE TASK {n}_c CLONE {n}_t",
        (USE_DB, USE_SCHEMA, CREATE_TASK, "GRANT MONITOR ON TASK {n}_t TO ROLE {r}"),
        (TASK,),
    ),
    Case(
        "CREATE TASK {n}_v ON SCHEDULE EVERY 10 MINUTES AS USER {n}_o AS SELECT 1",
        (USE_DB, USE_SCHEMA, CREATE_TASK, USE_DEFAULT, MANAGE),
        ("CREATE USER {n}_o",),
    ),
    Case("CREATE TASK {n}_m TYPE rebuild LOCATION SYSTEM", ("GRANT ROLE sysadmin TO ROLE {r}",)),
    Case(
        "ALTER TASK {n}_t SET WAREHOUSE = {n}_w",
        (OWN, "GRANT USAGE ON WAREHOUSE {n}_w TO ROLE {r}"),
        (TASK, WAREHOUSE),
    ),
    Case("SYSTEM PAUSE TASK {n}_t", ("GRANT OPERATE ON TASK {n}_t TO ROLE {r}",), (TASK,)),
    Case("EXECUTE TASK {n}_t", (OWN, "GRANT EXECUTE TASK ON ACCOUNT TO ROLE {r}"), (TASK,)),
    Case("SHOW GRANTS ON TASK {n}_t", ("GRANT MONITOR ON TASK {n}_t TO ROLE {r}",), (TASK,)),
    Case("SHOW TASKS", ()),
    # warehouses, integrations, streams
    Case(
        "ALTER WAREHOUSE {n}_w SET MAX_CONCURRENCY = 3",
        ("GRANT CREATE WAREHOUSE ON ACCOUNT TO ROLE {r}",),
        (WAREHOUSE,),
    ),
    Case("DROP WAREHOUSE {n}_w", ("GRANT CREATE WAREHOUSE ON ACCOUNT TO ROLE {r}",), (WAREHOUSE,)),
    Case("SHOW WAREHOUSES", ()),
    Case(
        "ALTER NOTIFICATION INTEGRATION {n}_i SET ENABLED = FALSE",
        ("GRANT CREATE INTEGRATION ON ACCOUNT TO ROLE {r}",),
        (INTEGRATION,),
    ),
    Case(
        "DROP NOTIFICATION INTEGRATION {n}_i",
        ("GRANT CREATE INTEGRATION ON ACCOUNT TO ROLE {r}",),
        (INTEGRATION,),
    ),
    Case("SHOW NOTIFICATION INTEGRATIONS", ()),
    Case("DESCRIBE NOTIFICATION INTEGRATION {n}_i", (), (INTEGRATION,)),
    Case("DESCRIBE STREAM {n}_s", (USE_DEFAULT,), STREAM),
    Case("SHOW STREAMS", (USE_DEFAULT,)),
    Case("DROP STREAM {n}_s", (USE_DEFAULT,), STREAM),
    Case("SHOW QUERIES", ()),
    # secrets (Snowflake: CREATE SECRET on the schema, OWNERSHIP, USAGE to name one in WEBHOOK_SECRET)
    Case(SECRET, (USE_DB, USE_SCHEMA, "GRANT CREATE SECRET ON SCHEMA tasksql.public TO ROLE {r}")),
    Case("ALTER SECRET {n}_k SET SECRET_STRING = 'T1/B1/YY'", (OWN_SECRET,), (SECRET,)),
    Case("DROP SECRET {n}_k", (OWN_SECRET,), (SECRET,)),
    Case("DESCRIBE SECRET {n}_k", (USE_SECRET,), (SECRET,)),
    Case("SHOW SECRETS", ()),
    Case("GRANT USAGE ON SECRET {n}_k TO ROLE {n}_y", (OWN_SECRET,), (SECRET, "CREATE ROLE {n}_y")),
    Case("GRANT OWNERSHIP ON SECRET {n}_k TO ROLE {n}_y", (OWN_SECRET,), (SECRET, "CREATE ROLE {n}_y")),
    Case(
        "CREATE NOTIFICATION INTEGRATION {n}_i TYPE = WEBHOOK"
        " WEBHOOK_URL = 'http://127.0.0.1:9/SNOWFLAKE_WEBHOOK_SECRET' WEBHOOK_SECRET = {n}_k",
        ("GRANT CREATE INTEGRATION ON ACCOUNT TO ROLE {r}", USE_SECRET),
        (SECRET,),
    ),
    # users, roles, grants
    Case(
        "ALTER USER {n}_u RESET TOKEN", ("GRANT CREATE USER ON ACCOUNT TO ROLE {r}",), ("CREATE USER {n}_u",)
    ),
    Case("GRANT ROLE {n}_x TO USER {n}_u", (MANAGE,), ("CREATE ROLE {n}_x", "CREATE USER {n}_u")),
    Case(
        "REVOKE ROLE {n}_x FROM USER {n}_u",
        (MANAGE,),
        ("CREATE ROLE {n}_x", "CREATE USER {n}_u", "GRANT ROLE {n}_x TO USER {n}_u"),
    ),
    Case(
        "GRANT EXECUTE TASK ON ACCOUNT TO ROLE {n}_y",
        ("GRANT ROLE accountadmin TO ROLE {r}",),
        ("CREATE ROLE {n}_y",),
    ),
    Case(
        "REVOKE USAGE ON WAREHOUSE {n}_w FROM ROLE {n}_y",
        (MANAGE,),
        (WAREHOUSE, "CREATE ROLE {n}_y", "GRANT USAGE ON WAREHOUSE {n}_w TO ROLE {n}_y"),
    ),
    Case("GRANT USAGE ON DATABASE tasksql TO ROLE {n}_y", (MANAGE,), ("CREATE ROLE {n}_y",)),
    Case("GRANT CREATE TASK ON SCHEMA tasksql.{n}_sc TO ROLE {n}_y", (MANAGE,), ("CREATE ROLE {n}_y",)),
    Case(
        "REVOKE MONITOR ON TASK {n}_t FROM ROLE {n}_y",
        (OWN,),
        (TASK, "CREATE ROLE {n}_y", "GRANT MONITOR ON TASK {n}_t TO ROLE {n}_y"),
    ),
    Case(
        "GRANT OWNERSHIP ON ALL TASKS IN SCHEMA tasksql.{n}_sc TO ROLE {n}_y",
        (MANAGE,),
        ("CREATE TASK tasksql.{n}_sc.t SCHEDULE = '60 minutes' AS SELECT 1", "CREATE ROLE {n}_y"),
    ),
    Case("SHOW GRANTS TO USER {n}_u", (MANAGE,), ("CREATE USER {n}_u",)),
    Case("SHOW GRANTS OF ROLE {n}_y", (MANAGE,), ("CREATE ROLE {n}_y",)),
    Case("SHOW ROLES", ()),
)


@dataclass(frozen=True)
class Variant:
    """One run of a case: the role ``role`` of user ``user`` has ``grants``; ``allowed`` says
    whether the statement must succeed."""

    case: Case
    prefix: str
    role: str
    user: str
    grants: tuple[str, ...]
    allowed: bool

    def fill(self, text: str) -> str:
        return text.replace("{n}", self.prefix).replace("{r}", self.role)

    @property
    def setup_sql(self) -> list[str]:
        """As ACCOUNTADMIN: the case's objects, the role with its grants, the user holding it."""
        return [
            *(self.fill(s) for s in self.case.setup),
            f"CREATE ROLE {self.role}",
            *(self.fill(g) for g in self.grants),
            f"CREATE USER {self.user} DEFAULT_ROLE = {self.role}",
            f"GRANT ROLE {self.role} TO USER {self.user}",
        ]

    @property
    def sql(self) -> str:
        return self.fill(self.case.sql)


#: Statement kinds the matrix cannot run as one statement of one caller, and the test covering them.
ELSEWHERE = {"CancelQuery": "tests/server/test_security_http.py::test_only_the_caller_cancels_its_query"}


def variants() -> list[Variant]:
    """Every case with all its grants, and once without each grant."""
    out: list[Variant] = []
    for i, case in enumerate(CASES):
        for j in range(-1, len(case.grants)):
            grants = tuple(g for k, g in enumerate(case.grants) if k != j)
            prefix = f"c{i}v{j + 1}"
            out.append(Variant(case, prefix, f"{prefix}_role", f"{prefix}_user", grants, allowed=j < 0))
    return out


#: The administrator every security test bootstraps (with security off, before turning it on).
BOOTSTRAP = "CREATE USER admin DEFAULT_ROLE = accountadmin; GRANT ROLE accountadmin TO USER admin"
