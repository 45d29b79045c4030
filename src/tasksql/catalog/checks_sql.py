""":class:`~tasksql.catalog.checks.StorageChecks` over the named queries of both backends
(:class:`SqlStorageChecks`, a base of :class:`~tasksql.catalog.sql_catalog.SqlCatalog`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from tasksql.catalog.checks import CatalogCheck
from tasksql.catalog.grouped import GroupCommitCatalog
from tasksql.catalog.rows import Row, db_time, from_db_time
from tasksql.catalog.writer import D
from tasksql.errors import CatalogError
from tasksql.model.storage_check import CheckResult, StorageCheck


def _params(c: StorageCheck) -> dict[str, Any]:
    return {
        "run_id": c.run_id,
        "task_id": c.task_id,
        "task_name": c.task_name,
        "node_id": c.node_id,
        "object_kind": c.object_kind,
        "storage_id": c.storage_id,
        "check_name": c.check,
        "result": c.result.value,
        "detail": c.detail,
        "checked_at": db_time(c.checked_at),
    }


def _record(row: Row) -> StorageCheck:
    return StorageCheck(
        check_id=int(row["check_id"]),
        run_id=int(row["run_id"]),
        task_id=int(row["task_id"]),
        task_name=row["task_name"],
        node_id=row["node_id"],
        object_kind=row["object_kind"],
        storage_id=row["storage_id"],
        check=row["check_name"],
        result=CheckResult(row["result"]),
        detail=row["detail"],
        checked_at=from_db_time(row["checked_at"]),
    )


class SqlStorageChecks(GroupCommitCatalog[D]):
    """See :class:`~tasksql.catalog.checks.StorageChecks`."""

    async def record_storage_checks(self, checks: Sequence[StorageCheck]) -> None:
        if not checks:
            return
        sql, batch = self._sql, [_params(c) for c in checks]
        await self._write(lambda db: sql.many(db, "storage_check_insert", batch), durable=True)

    async def list_storage_checks(self, *, run_id: int | None = None) -> list[StorageCheck]:
        sql, params = self._sql, {"run_id": run_id}
        return await self._read(lambda db: [_record(r) for r in sql.rows(db, "storage_checks_list", params)])

    async def check_own_storage(self, *, quick: bool) -> list[CatalogCheck]:
        sql = self._sql
        if sql.name == "sqlite":
            check = "quick_check" if quick else "integrity_check"
            # the query names written out whole: the catalog's query check finds every name it uses
            query = "catalog_quick_check" if quick else "catalog_integrity_check"
            try:
                rows = await self._read(lambda db: sql.rows(db, query, {}))
            except CatalogError as err:  # a file too damaged to read is damage too
                return [CatalogCheck("catalog", "catalog", check, CheckResult.DAMAGED, err.message)]
            found = [str(r["finding"]) for r in rows if str(r["finding"]) != "ok"]
            result = CheckResult.DAMAGED if found else CheckResult.OK
            return [CatalogCheck("catalog", "catalog", check, result, "; ".join(found)[:1000] or None)]
        ext = await self._read(lambda db: sql.first(db, "catalog_amcheck_schema", {}))
        if ext is None:
            why = (
                "the amcheck extension is not installed in the catalog's database (CREATE EXTENSION amcheck)"
            )
            return [CatalogCheck("catalog", "catalog", "bt_index_check", CheckResult.SKIPPED, why)]
        amcheck = '"' + str(ext["schema"]).replace('"', '""') + '"'
        indexes = await self._read(lambda db: sql.rows(db, "catalog_btree_indexes", {}))
        out: list[CatalogCheck] = []

        def btree_check(oid: int) -> Callable[[D], Row | None]:
            def check(db: D) -> Row | None:
                # amcheck's functions are found on the search path, which holds the catalog's
                # schema only: its schema is added for the check and taken off after
                path = sql.first(db, "catalog_search_path", {})
                old = str(path["path"]) if path is not None else ""
                sql.first(db, "catalog_search_path_set", {"path": f"{old}, {amcheck}" if old else amcheck})
                try:
                    return sql.first(db, "catalog_btree_check", {"oid": oid})
                finally:
                    sql.first(db, "catalog_search_path_set", {"path": old})

            return check

        for index in indexes:
            name = f"catalog.{index['name']}"
            try:  # each index in its own transaction: a damaged one does not end the others' checks
                await self._read(btree_check(int(index["oid"])))
            except CatalogError as err:
                out.append(CatalogCheck(name, "index", "bt_index_check", CheckResult.DAMAGED, err.message))
                continue
            out.append(CatalogCheck(name, "index", "bt_index_check", CheckResult.OK, None))
        return out
