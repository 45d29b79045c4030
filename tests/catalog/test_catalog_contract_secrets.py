"""The catalog contract for secret objects: stored and read back whole (value, source, owner),
fenced by their resolved name, replaced keeping created_on, dropped; an integration keeps the name
of its WEBHOOK_SECRET, also after the secret is dropped.

Written against the :class:`~tasksql.catalog.Catalog` interface only; every backend runs it.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from catalog_support import NOW, later

from tasksql.catalog import Catalog
from tasksql.errors import CatalogError, ObjectExists
from tasksql.model import IntegrationDef, QualifiedName, Webhook
from tasksql.model.secret import SecretDef, SecretSource, SecretString

SLACK = QualifiedName("my_slack_webhook_secret", "my_secrets_schema", "my_secrets_db")
SECRET = SecretDef(
    name=SLACK,
    secret_string=SecretString(SecretSource.STRING, "T00000000/B00000000/XXXX"),
    owner="sysadmin",
    comment="slack",
)


async def test_a_secret_is_stored_and_read_back_whole(catalog: Catalog) -> None:
    await catalog.put_secret(SECRET, replace=False, now=NOW)
    got = await catalog.get_secret(SLACK)
    assert got is not None
    assert got.definition == SECRET
    assert got.definition.secret_string.value == "T00000000/B00000000/XXXX"
    assert got.created_on == NOW and got.last_altered_on == NOW
    # the name is the whole resolved name: another schema's secret of that name is another secret
    assert await catalog.get_secret(replace(SLACK, schema="other")) is None
    assert (
        await catalog.get_secret(
            QualifiedName("My_Slack_Webhook_Secret", "my_secrets_schema", "my_secrets_db")
        )
        is None
    )


async def test_a_second_secret_of_that_name_is_refused_and_a_replace_keeps_created_on(
    catalog: Catalog,
) -> None:
    await catalog.put_secret(SECRET, replace=False, now=NOW)
    with pytest.raises(ObjectExists) as info:
        await catalog.put_secret(replace(SECRET, comment="again"), replace=False, now=later(1))
    assert info.value.code == "SECRET_EXISTS"
    assert "T00000000" not in info.value.message

    from_env = replace(SECRET, secret_string=SecretString(SecretSource.ENV, "SLACK_TOKEN"), comment=None)
    await catalog.put_secret(from_env, replace=True, now=later(2))
    got = await catalog.get_secret(SLACK)
    assert got is not None and got.definition == from_env
    assert got.created_on == NOW and got.last_altered_on == later(2)


async def test_secrets_are_listed_by_name_and_dropped(catalog: Catalog) -> None:
    file_secret = SecretDef(
        name=QualifiedName("a_file", "public", "tasksql"),
        secret_string=SecretString(SecretSource.FILE, "/run/secrets/key"),
        owner="alice",
    )
    await catalog.put_secret(SECRET, replace=False, now=NOW)
    await catalog.put_secret(file_secret, replace=False, now=NOW)
    listed = [r.definition for r in await catalog.list_secrets()]
    assert listed == [SECRET, file_secret]  # ordered by name: database first
    assert await catalog.drop_secret(SLACK)
    assert not await catalog.drop_secret(SLACK)
    assert [r.definition for r in await catalog.list_secrets()] == [file_secret]


async def test_an_unresolved_secret_name_is_refused(catalog: Catalog) -> None:
    with pytest.raises(CatalogError) as info:
        await catalog.put_secret(replace(SECRET, name=QualifiedName("bare")), replace=False, now=NOW)
    assert info.value.code == "NAME_NOT_RESOLVED"


async def test_an_integration_keeps_the_name_of_its_webhook_secret(catalog: Catalog) -> None:
    await catalog.put_secret(SECRET, replace=False, now=NOW)
    hook = IntegrationDef(
        name="my_slack_webhook_int",
        webhook=Webhook(
            url="https://hooks.slack.com/services/SNOWFLAKE_WEBHOOK_SECRET",
            body_template='{"text": "SNOWFLAKE_WEBHOOK_MESSAGE"}',
        ),
        webhook_secret=SLACK,
    )
    await catalog.put_integration(hook, replace=False, now=NOW)
    assert await catalog.get_integration("my_slack_webhook_int") == hook
    # dropping the secret leaves the integration naming it (its sends fail until it is back)
    assert await catalog.drop_secret(SLACK)
    assert await catalog.get_integration("my_slack_webhook_int") == hook
    # and an integration without one reads back without one
    await catalog.put_integration(replace(hook, webhook_secret=None), replace=True, now=NOW)
    got = await catalog.get_integration("my_slack_webhook_int")
    assert got is not None and got.webhook_secret is None
