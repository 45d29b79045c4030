"""Secret objects through the engine, as Snowflake's docs write them: names resolve like task names,
SHOW and DESCRIBE say where a value is read and never show it, nothing that records or shows a
statement keeps it, a WEBHOOK_SECRET must name a secret that exists (and that the role may use),
dropping a secret in use is allowed, and DuckDB's own CREATE / DROP SECRET still reach DuckDB."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

import tasksql
from security_matrix import BOOTSTRAP
from tasksql.engine import Engine
from tasksql.errors import NotSupportedError, ObjectExists, ObjectNotFound, PermissionDenied, TasksqlError
from tasksql.model import QualifiedName
from tasksql.model.secret import SecretSource
from tasksql.settings import Settings

VALUE = "T00000000/B00000000/XXXXSECRETXXXX"
CREATE_SECRET = f"""CREATE SECRET my_secrets_db.my_secrets_schema.my_slack_webhook_secret
  TYPE = GENERIC_STRING
  SECRET_STRING = '{VALUE}'"""
CREATE_HOOK = """CREATE OR REPLACE NOTIFICATION INTEGRATION my_slack_webhook_int
  TYPE=WEBHOOK
  ENABLED=TRUE
  WEBHOOK_URL='https://hooks.slack.com/services/SNOWFLAKE_WEBHOOK_SECRET'
  WEBHOOK_SECRET=my_secrets_db.my_secrets_schema.my_slack_webhook_secret
  WEBHOOK_BODY_TEMPLATE='{"text": "SNOWFLAKE_WEBHOOK_MESSAGE"}'
  WEBHOOK_HEADERS=('Content-Type'='application/json')"""
SLACK = QualifiedName("my_slack_webhook_secret", "my_secrets_schema", "my_secrets_db")


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    async with Engine(Settings.load(data_dir=tmp_path / "data")) as e:
        yield e


async def rows(engine: Engine, text: str) -> list[tuple[Any, ...]]:
    return (await engine.execute(text))[-1].rows


async def shown_everywhere(engine: Engine) -> str:
    """Everything SHOW, DESCRIBE and the system tables say about secrets and integrations."""
    texts = [
        await rows(engine, "SHOW SECRETS"),
        await rows(engine, "DESCRIBE SECRET my_secrets_db.my_secrets_schema.my_slack_webhook_secret"),
        await rows(engine, "SHOW NOTIFICATION INTEGRATIONS"),
        await rows(engine, "DESCRIBE NOTIFICATION INTEGRATION my_slack_webhook_int"),
        await rows(engine, "SELECT * FROM system.notification_integrations"),
        await rows(engine, "SELECT * FROM system.audit_log"),
    ]
    return repr(texts)


async def test_the_documented_slack_flow_is_stored_and_never_shown(engine: Engine) -> None:
    await engine.execute(CREATE_SECRET + ";\n" + CREATE_HOOK)

    stored = await engine.catalog.get_secret(SLACK)
    assert stored is not None and stored.definition.secret_string.value == VALUE
    assert stored.definition.secret_string.source is SecretSource.STRING
    hook = await engine.catalog.get_integration("my_slack_webhook_int")
    assert hook is not None and hook.webhook_secret == SLACK
    assert hook.webhook is not None and hook.webhook.url.endswith("/services/SNOWFLAKE_WEBHOOK_SECRET")

    [shown] = await rows(engine, "SHOW SECRETS")
    assert shown[1:] == (
        "my_slack_webhook_secret",
        "my_secrets_schema",
        "my_secrets_db",
        engine.user.name,
        None,
        "GENERIC_STRING",
        "STRING",
    )
    [described] = await rows(engine, "DESC SECRET my_secrets_db.my_secrets_schema.my_slack_webhook_secret")
    assert described[8] == "catalog"
    props = dict(await rows(engine, "DESCRIBE NOTIFICATION INTEGRATION my_slack_webhook_int"))
    assert props["webhook_secret"] == "my_secrets_db.my_secrets_schema.my_slack_webhook_secret"
    everything = await shown_everywhere(engine)
    assert VALUE not in everything and "XXXXSECRETXXXX" not in everything
    # the audit log keeps the statement's leading words only
    audit = [r[0] for r in await rows(engine, "SELECT statement FROM system.audit_log")]
    assert any(a.startswith("CREATE SECRET my_secrets_db") and "not recorded" in a for a in audit)
    # the catalog's repr of the definition does not show it either
    assert VALUE not in repr(stored)


async def test_unqualified_names_resolve_in_the_current_schema(engine: Engine) -> None:
    await engine.execute(
        "CREATE SECRET slack_url TYPE = GENERIC_STRING SECRET_STRING = ENV 'SLACK_URL_TOKEN' COMMENT = 'env'"
    )
    assert await engine.catalog.get_secret(QualifiedName("slack_url", "public", "tasksql")) is not None
    [row] = await rows(engine, "DESCRIBE SECRET tasksql.public.SLACK_URL")
    assert row[5] == "env" and row[7] == "ENV" and row[8] == "environment variable SLACK_URL_TOKEN"
    await engine.execute(
        "CREATE NOTIFICATION INTEGRATION h TYPE = WEBHOOK WEBHOOK_URL = 'https://x.example/SNOWFLAKE_WEBHOOK_SECRET'"
        " WEBHOOK_SECRET = public.slack_url"
    )
    hook = await engine.catalog.get_integration("h")
    assert hook is not None and hook.webhook_secret == QualifiedName("slack_url", "public", "tasksql")


async def test_create_or_replace_if_not_exists_alter_and_drop(engine: Engine) -> None:
    await engine.execute(CREATE_SECRET)
    with pytest.raises(ObjectExists) as exists:
        await engine.execute(CREATE_SECRET)
    assert exists.value.code == "SECRET_EXISTS" and VALUE not in exists.value.render()
    [status] = await rows(engine, CREATE_SECRET.replace("CREATE SECRET", "CREATE SECRET IF NOT EXISTS"))
    assert "already exists" in status[0]
    await engine.execute(
        "CREATE OR REPLACE SECRET my_secrets_db.my_secrets_schema.my_slack_webhook_secret"
        " TYPE = GENERIC_STRING SECRET_STRING = FILE 'slack.txt' COMMENT = 'from a file'"
    )
    rec = await engine.catalog.get_secret(SLACK)
    assert rec is not None and rec.definition.secret_string.source is SecretSource.FILE
    await engine.execute(
        "ALTER SECRET my_secrets_db.my_secrets_schema.my_slack_webhook_secret SET SECRET_STRING = 'T1/B1/new'"
    )
    rec = await engine.catalog.get_secret(SLACK)
    assert rec is not None and rec.definition.secret_string.value == "T1/B1/new"
    assert rec.definition.comment == "from a file"
    await engine.execute("ALTER SECRET my_secrets_db.my_secrets_schema.my_slack_webhook_secret UNSET COMMENT")
    rec = await engine.catalog.get_secret(SLACK)
    assert rec is not None and rec.definition.comment is None
    assert [r[1] for r in await rows(engine, "SHOW SECRETS LIKE 'MY_%'")] == ["my_slack_webhook_secret"]
    assert await rows(engine, "SHOW SECRETS LIKE 'other%'") == []

    await engine.execute("DROP SECRET my_secrets_db.my_secrets_schema.my_slack_webhook_secret")
    assert await engine.catalog.get_secret(SLACK) is None
    await engine.execute(
        "ALTER SECRET IF EXISTS my_secrets_db.my_secrets_schema.my_slack_webhook_secret UNSET COMMENT"
    )
    with pytest.raises(ObjectNotFound) as missing:
        await engine.execute("DESCRIBE SECRET my_secrets_db.my_secrets_schema.my_slack_webhook_secret")
    assert missing.value.code == "SECRET_NOT_FOUND" and "CREATE SECRET" in missing.value.message


async def test_a_webhook_secret_must_exist_and_the_placeholder_needs_one(engine: Engine) -> None:
    with pytest.raises(ObjectNotFound) as missing:
        await engine.execute(CREATE_HOOK)
    err = missing.value
    assert err.code == "SECRET_NOT_FOUND"
    assert (
        "my_secrets_db.my_secrets_schema.my_slack_webhook_secret" in err.message
        and "CREATE SECRET" in err.message
    )
    assert err.line == 5  # at WEBHOOK_SECRET
    assert await engine.catalog.get_integration("my_slack_webhook_int") is None

    with pytest.raises(TasksqlError) as unnamed:
        await engine.execute(
            "CREATE NOTIFICATION INTEGRATION n TYPE = WEBHOOK"
            " WEBHOOK_URL = 'https://hooks.slack.com/services/SNOWFLAKE_WEBHOOK_SECRET'"
        )
    assert unnamed.value.code == "INVALID_VALUE" and "WEBHOOK_SECRET = <secret name>" in unnamed.value.message

    await engine.execute(CREATE_SECRET + ";\n" + CREATE_HOOK)
    # UNSET WEBHOOK_SECRET would leave the placeholder with nothing to put there
    with pytest.raises(TasksqlError) as dangling:
        await engine.execute("ALTER NOTIFICATION INTEGRATION my_slack_webhook_int UNSET WEBHOOK_SECRET")
    assert dangling.value.code == "INVALID_VALUE"
    await engine.execute(
        "ALTER NOTIFICATION INTEGRATION my_slack_webhook_int SET WEBHOOK_URL = 'https://example.com/hook';"
        " ALTER NOTIFICATION INTEGRATION my_slack_webhook_int UNSET WEBHOOK_SECRET"
    )
    hook = await engine.catalog.get_integration("my_slack_webhook_int")
    assert hook is not None and hook.webhook_secret is None
    with pytest.raises(ObjectNotFound):
        await engine.execute("ALTER NOTIFICATION INTEGRATION my_slack_webhook_int SET WEBHOOK_SECRET = nope")


async def test_dropping_a_secret_in_use_is_allowed(engine: Engine) -> None:
    await engine.execute(CREATE_SECRET + ";\n" + CREATE_HOOK)
    await engine.execute("DROP SECRET my_secrets_db.my_secrets_schema.my_slack_webhook_secret")
    hook = await engine.catalog.get_integration("my_slack_webhook_int")
    assert hook is not None and hook.webhook_secret == SLACK  # its sends fail until the secret is back


async def test_other_secret_types_are_refused_naming_generic_string(engine: Engine) -> None:
    with pytest.raises(NotSupportedError) as refused:
        await engine.execute("CREATE SECRET p TYPE = PASSWORD USERNAME = 'u' PASSWORD = 'hunter2'")
    assert "GENERIC_STRING" in refused.value.message and "hunter2" not in refused.value.render()
    assert await rows(engine, "SHOW SECRETS") == []


async def test_an_error_in_a_script_never_shows_a_literal_secret(engine: Engine) -> None:
    for script in (
        f"CREATE SECRET s TYPE = GENERIC_STRING SECRET_STRING = '{VALUE}' COMENT = 'x'",
        f"CREATE SECRET s TYPE = GENERIC_STRING SECRET_STRING = '{VALUE}'; CREATE TASK",
        f"CREATE SECRET s TYPE = GENERIC_STRING SECRET_STRING = '{VALUE}'; CREATE SECRET s TYPE = GENERIC_STRING"
        f" SECRET_STRING = '{VALUE}'",
    ):
        with pytest.raises(TasksqlError) as caught:
            await engine.execute(script)
        rendered = caught.value.render()
        assert VALUE not in rendered and "*" * len(VALUE) in rendered, rendered


async def test_duckdb_secrets_still_reach_duckdb(engine: Engine) -> None:
    # DuckDB's own DROP SECRET (tasksql has no secret of that name): DuckDB answers
    await engine.execute("DROP SECRET IF EXISTS duck_s3_secret")
    with pytest.raises(TasksqlError) as caught:
        await engine.execute("DROP SECRET duck_s3_secret")
    assert "duck_s3_secret" in caught.value.message
    # a tasksql secret of that name is tasksql's
    await engine.execute("CREATE SECRET duck_s3_secret TYPE = GENERIC_STRING SECRET_STRING = 'x'")
    await engine.execute("DROP SECRET duck_s3_secret")
    assert await rows(engine, "SHOW SECRETS") == []


def test_privileges_follow_snowflake(tmp_path: Path) -> None:
    """CREATE SECRET on the schema; the owner alters and grants; USAGE lets another role describe
    the secret and name it in WEBHOOK_SECRET; SHOW SECRETS lists only what the role may use."""
    data = tmp_path / "data"
    with tasksql.connect(data) as conn:
        conn.sql_all(BOOTSTRAP)
        for role, user in (("ops", "olga"), ("hooks", "hank"), ("other", "otto")):
            conn.sql_all(
                f"CREATE ROLE {role}; CREATE USER {user} DEFAULT_ROLE = {role}; GRANT ROLE {role} TO USER {user}"
            )
        conn.sql_all(
            "GRANT USAGE ON DATABASE tasksql TO ROLE ops; GRANT USAGE ON SCHEMA tasksql.public TO ROLE ops;"
            " GRANT CREATE SECRET ON SCHEMA tasksql.public TO ROLE ops;"
            " GRANT CREATE INTEGRATION ON ACCOUNT TO ROLE hooks"
        )
    with (
        tasksql.connect(data, owner="otto", security=True) as otto,
        pytest.raises(PermissionDenied) as denied,
    ):
        otto.sql("CREATE SECRET k TYPE = GENERIC_STRING SECRET_STRING = 'v'")
    assert "CREATE SECRET" in denied.value.message or "USAGE" in denied.value.message
    with tasksql.connect(data, owner="olga", security=True) as olga:
        olga.sql("CREATE SECRET k TYPE = GENERIC_STRING SECRET_STRING = 'v'")
        assert [r[4] for r in olga.sql("SHOW SECRETS").rows] == ["ops"]
    hook = "CREATE NOTIFICATION INTEGRATION h TYPE = WEBHOOK WEBHOOK_URL = 'https://x/SNOWFLAKE_WEBHOOK_SECRET' WEBHOOK_SECRET = k"
    with tasksql.connect(data, owner="hank", security=True) as hank:
        assert hank.sql("SHOW SECRETS").rows == []
        with pytest.raises(PermissionDenied) as denied:
            hank.sql(hook)
        assert "USAGE on secret tasksql.public.k" in denied.value.message
    with tasksql.connect(data, owner="otto", security=True) as otto, pytest.raises(PermissionDenied):
        otto.sql("GRANT USAGE ON SECRET k TO ROLE hooks")  # not the owner, no MANAGE GRANTS
    with tasksql.connect(data, owner="olga", security=True) as olga:
        olga.sql("GRANT USAGE ON SECRET k TO ROLE hooks")
    with tasksql.connect(data, owner="hank", security=True) as hank:
        hank.sql(hook)
        assert [r[1] for r in hank.sql("SHOW SECRETS").rows] == ["k"]
        assert hank.sql("DESCRIBE SECRET k").rows[0][4] == "ops"
        with pytest.raises(PermissionDenied):
            hank.sql("ALTER SECRET k SET SECRET_STRING = 'w'")  # USAGE does not make it its own
    with tasksql.connect(data, owner="olga", security=True) as olga:
        olga.sql("DROP SECRET k")
    with tasksql.connect(data, owner="admin", security=True) as admin:
        grants = admin.sql("SHOW GRANTS TO ROLE hooks").rows
        assert not any(r[2] == "SECRET" for r in grants)  # a dropped secret's grants go with it
