"""The catalog contract for users, roles, grants and the audit log: what is written is read back
whole, names are fenced, a drop takes the grants naming it with it, the audit log keeps its order
and is pruned by age.

Written against the :class:`~tasksql.catalog.Catalog` interface only; every backend runs it.
"""

from __future__ import annotations

from dataclasses import replace

from catalog_support import NOW, later

from conftest import CatalogFactory
from tasksql.catalog import Catalog
from tasksql.model.security import (
    AuditEntry,
    GranteeKind,
    ObjectKind,
    PrivilegeGrant,
    RoleGrant,
    RoleRecord,
    UserRecord,
)

ALICE = UserRecord(
    name="alice", default_role="myrole", comment="analyst", token_sha256="a" * 64, created_by="root"
)


async def test_users_are_stored_read_back_and_fenced_by_name(catalog: Catalog) -> None:
    assert await catalog.create_user(ALICE, now=NOW)
    assert not await catalog.create_user(replace(ALICE, comment="other"), now=NOW)
    state = await catalog.security_state()
    assert state.users["alice"] == replace(ALICE, created_on=NOW)
    assert await catalog.user_by_token("a" * 64) == replace(ALICE, created_on=NOW)
    assert await catalog.user_by_token("b" * 64) is None

    assert await catalog.update_user(replace(ALICE, disabled=True, token_sha256="b" * 64, default_role=None))
    assert await catalog.user_by_token("a" * 64) is None
    got = await catalog.user_by_token("b" * 64)
    assert got is not None and got.disabled and got.default_role is None and got.created_by == "root"
    assert not await catalog.update_user(replace(ALICE, name="nobody"))


async def test_dropping_a_user_drops_the_roles_granted_to_it(catalog: Catalog) -> None:
    await catalog.create_user(ALICE, now=NOW)
    await catalog.create_role(RoleRecord(name="myrole", owner="securityadmin"), now=NOW)
    assert await catalog.grant_role(
        RoleGrant(role="myrole", grantee_kind=GranteeKind.USER, grantee="alice"), now=NOW
    )
    assert (await catalog.security_state()).user_roles("alice") >= {"myrole", "public"}
    assert await catalog.drop_user("alice")
    assert not await catalog.drop_user("alice")
    state = await catalog.security_state()
    assert state.users == {} and state.role_grants == ()


async def test_roles_grants_and_privileges_round_trip(catalog: Catalog) -> None:
    assert await catalog.create_role(
        RoleRecord(name="taskadmin", owner="securityadmin", comment="c"), now=NOW
    )
    assert not await catalog.create_role(RoleRecord(name="taskadmin", owner="sysadmin"), now=NOW)
    await catalog.create_role(RoleRecord(name="myrole", owner="securityadmin"), now=later(1))
    grant = RoleGrant(
        role="taskadmin", grantee_kind=GranteeKind.ROLE, grantee="myrole", granted_by="securityadmin"
    )
    assert await catalog.grant_role(grant, now=NOW)
    assert not await catalog.grant_role(grant, now=later(5))
    execute = PrivilegeGrant(
        privilege="EXECUTE TASK",
        object_kind=ObjectKind.ACCOUNT,
        object_name="",
        role="taskadmin",
        granted_by="accountadmin",
    )
    assert await catalog.grant_privilege(execute, now=NOW)
    assert not await catalog.grant_privilege(execute, now=NOW)
    usage = PrivilegeGrant(
        privilege="USAGE", object_kind=ObjectKind.WAREHOUSE, object_name="pg", role="myrole"
    )
    await catalog.grant_privilege(usage, now=NOW)

    state = await catalog.security_state()
    assert state.roles["taskadmin"] == RoleRecord(
        name="taskadmin", owner="securityadmin", comment="c", created_on=NOW
    )
    assert state.role_grants == (replace(grant, created_on=NOW),)
    assert set(state.privileges) == {replace(execute, created_on=NOW), replace(usage, created_on=NOW)}
    # myrole inherits taskadmin's EXECUTE TASK
    assert state.has(state.roles_of("myrole"), "EXECUTE TASK", ObjectKind.ACCOUNT)
    assert not state.has(state.roles_of("taskadmin"), "USAGE", ObjectKind.WAREHOUSE, "pg")

    assert await catalog.revoke_role("taskadmin", GranteeKind.ROLE, "myrole")
    assert not await catalog.revoke_role("taskadmin", GranteeKind.ROLE, "myrole")
    assert await catalog.revoke_privilege("USAGE", ObjectKind.WAREHOUSE, "pg", "myrole")
    assert not await catalog.revoke_privilege("USAGE", ObjectKind.WAREHOUSE, "pg", "myrole")
    state = await catalog.security_state()
    assert not state.has(state.roles_of("myrole"), "EXECUTE TASK", ObjectKind.ACCOUNT)
    assert state.privileges == (replace(execute, created_on=NOW),)


async def test_dropping_a_role_takes_its_grants_and_privileges(catalog: Catalog) -> None:
    for name in ("a", "b"):
        await catalog.create_role(RoleRecord(name=name, owner="securityadmin"), now=NOW)
    await catalog.grant_role(RoleGrant(role="a", grantee_kind=GranteeKind.ROLE, grantee="b"), now=NOW)
    await catalog.grant_role(RoleGrant(role="b", grantee_kind=GranteeKind.USER, grantee="alice"), now=NOW)
    await catalog.grant_privilege(
        PrivilegeGrant(privilege="OPERATE", object_kind=ObjectKind.TASK, object_name="7", role="a"), now=NOW
    )
    await catalog.grant_privilege(
        PrivilegeGrant(privilege="MONITOR", object_kind=ObjectKind.TASK, object_name="7", role="b"), now=NOW
    )
    assert await catalog.drop_role("a")
    assert not await catalog.drop_role("a")
    state = await catalog.security_state()
    assert set(state.roles) == {"b"}
    assert [(g.role, g.grantee) for g in state.role_grants] == [("b", "alice")]
    assert [(p.privilege, p.role) for p in state.privileges] == [("MONITOR", "b")]
    assert await catalog.forget_object(ObjectKind.TASK, "7") == 1
    assert (await catalog.security_state()).privileges == ()


async def test_the_audit_log_keeps_order_and_is_pruned_by_age(catalog: Catalog) -> None:
    entries = [
        AuditEntry(
            at=NOW, user_name="alice", role_name="myrole", statement="CREATE ROLE r", outcome="SUCCEEDED"
        ),
        AuditEntry(
            at=later(60),
            user_name="bob",
            role_name="public",
            statement="DROP ROLE r",
            outcome="FAILED",
            error_code="PERMISSION_DENIED",
            error_message="role public lacks OWNERSHIP on role r",
        ),
    ]
    await catalog.record_audit(entries)
    await catalog.record_audit([])
    got = await catalog.list_audit()
    assert [replace(e, id=None) for e in got] == entries[::-1]
    assert got[0].id is not None and got[1].id is not None and got[0].id > got[1].id
    assert len(await catalog.list_audit(limit=1)) == 1
    assert await catalog.prune_audit(later(30)) == 1
    assert [e.user_name for e in await catalog.list_audit()] == ["bob"]


async def test_security_rows_are_seen_by_another_catalog_object(catalog_factory: CatalogFactory) -> None:
    async with catalog_factory() as first:
        await first.create_user(ALICE, now=NOW)
        await first.create_role(RoleRecord(name="myrole", owner="securityadmin"), now=NOW)
    async with catalog_factory() as second:
        state = await second.security_state()
        assert set(state.users) == {"alice"} and set(state.roles) == {"myrole"}
