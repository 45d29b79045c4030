"""What a statement's text becomes where it is kept or shown to others: the audit log
(``system.audit_log``) and the running queries (SHOW QUERIES, ``GET /api/v1/queries``).

Statements that may hold secrets (a webhook's token or header, a warehouse URL's password, a
``SECRET_STRING``) keep their leading words only; an error's source shows a secret statement with
its literal masked (:func:`tasksql.sql.parse_secret.masked_script`).
"""

from __future__ import annotations

from tasksql.sql import statements as st

#: Statements whose options may hold secrets.
WITH_SECRETS = (
    st.CreateIntegration,
    st.AlterIntegration,
    st.CreateWarehouse,
    st.AlterWarehouse,
    st.CreateSecret,
    st.AlterSecret,
)


def recorded_text(stmt: st.Statement) -> str:
    """``stmt``'s text, or its first four words and a note when its options may hold secrets."""
    if isinstance(stmt, WITH_SECRETS):
        return " ".join(stmt.text.split()[:4]) + " ... (options not recorded: they may hold secrets)"
    return stmt.text
