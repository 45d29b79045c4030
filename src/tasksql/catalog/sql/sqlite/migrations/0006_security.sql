-- 0006: users, roles, role grants, privilege grants and the audit log.

-- Users, roles and privileges (docs/security.md). Names are stored in lower case. The system roles
-- (accountadmin, securityadmin, sysadmin, public) are not rows: they always exist.

-- Users: who calls. token_sha256 is the hex SHA-256 of the user's API token (the token itself is
-- shown once, when it is made, and never stored).
CREATE TABLE security_users (
    name         TEXT PRIMARY KEY,
    default_role TEXT,
    disabled     INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    comment      TEXT,
    token_sha256 TEXT UNIQUE,
    created_by   TEXT NOT NULL,
    created_on   TEXT NOT NULL
);

-- Roles made by CREATE ROLE; owner is the role that made it.
CREATE TABLE security_roles (
    name       TEXT PRIMARY KEY,
    owner      TEXT NOT NULL,
    comment    TEXT,
    created_on TEXT NOT NULL
);

-- GRANT ROLE role TO {ROLE | USER} grantee.
CREATE TABLE security_role_grants (
    role         TEXT NOT NULL,
    grantee_kind TEXT NOT NULL CHECK (grantee_kind IN ('ROLE', 'USER')),
    grantee      TEXT NOT NULL,
    granted_by   TEXT NOT NULL,
    created_on   TEXT NOT NULL,
    PRIMARY KEY (role, grantee_kind, grantee)
);

-- GRANT privilege ON kind object TO ROLE role (object: '' for the account, a task's id as text).
CREATE TABLE security_privileges (
    privilege   TEXT NOT NULL,
    object_kind TEXT NOT NULL CHECK (object_kind IN ('ACCOUNT', 'TASK', 'WAREHOUSE', 'DATABASE', 'SCHEMA')),
    object_name TEXT NOT NULL,
    role        TEXT NOT NULL,
    granted_by  TEXT NOT NULL,
    created_on  TEXT NOT NULL,
    PRIMARY KEY (privilege, object_kind, object_name, role)
);

-- system.audit_log: every DDL, grant, revoke and manual execution, kept by the history retention.
CREATE TABLE audit_log (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    at            TEXT NOT NULL,
    user_name     TEXT NOT NULL,
    role_name     TEXT NOT NULL,
    statement     TEXT NOT NULL,
    outcome       TEXT NOT NULL CHECK (outcome IN ('SUCCEEDED', 'FAILED')),
    error_code    TEXT,
    error_message TEXT
);

-- Pruning by age.
CREATE INDEX audit_log_at ON audit_log (at);
