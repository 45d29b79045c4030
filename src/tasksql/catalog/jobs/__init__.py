"""The catalog's job bodies, written once for every backend.

Plain functions of a :class:`~tasksql.catalog.dialect.CatalogDialect` and the handle it runs
queries on, run by a backend's writer thread (inside the group transaction) or by a reader thread.
They never begin or end a transaction; a job that raises a :class:`~tasksql.errors.TasksqlError`
is rolled back alone. Rows are mapped by :mod:`tasksql.catalog.rows`.
"""
