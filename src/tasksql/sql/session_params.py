"""Session parameters a task may not set, and why (checked at CREATE TASK and ALTER TASK ... SET).

Snowflake's docs say a task supports every *session* parameter but no account or user parameter,
and that a task's statements run with autocommit on, so ``AUTOCOMMIT = FALSE`` cannot apply. Such
a parameter is refused when the task is created or altered (never stored and then ignored). Keys
are lower case; values are the SQL literals as written.
"""

from __future__ import annotations

#: Parameters Snowflake sets only for an account (``ALTER ACCOUNT SET ...``): a task cannot.
ACCOUNT_PARAMETERS = frozenset(
    {
        "allow_client_mfa_caching",
        "allow_id_token",
        "client_encryption_key_size",
        "enable_identifier_first_login",
        "enable_tri_secret_and_rekey_opt_out_for_image_repository",
        "enforce_network_rules_for_internal_stages",
        "external_oauth_add_privileged_roles_to_blocked_list",
        "initial_replication_size_limit_in_tb",
        "min_data_retention_time_in_days",
        "oauth_add_privileged_roles_to_blocked_list",
        "periodic_data_rekeying",
        "prevent_unload_to_inline_url",
        "prevent_unload_to_internal_stages",
        "require_storage_integration_for_stage_creation",
        "require_storage_integration_for_stage_operation",
        "saml_identity_provider",
        "sso_login_page",
    }
)
#: Parameters Snowflake sets only for a user or an account (``ALTER USER ... SET``).
USER_PARAMETERS = frozenset({"enable_unredacted_query_syntax_error", "network_policy"})

_FALSE = frozenset({"false", "'false'", "0", "'0'", "off", "'off'", "no", "'no'"})


def refusal(key: str, literal: str) -> str | None:
    """Why the session parameter ``key = literal`` cannot be set on a task; None when it can."""
    if key == "autocommit" and literal.strip().lower() in _FALSE:
        return (
            "AUTOCOMMIT = FALSE is not supported for tasks: a task's statements run with autocommit"
            " on (a BEGIN ... END body runs in one transaction); remove the parameter"
        )
    if key in ACCOUNT_PARAMETERS:
        return f"{key.upper()} is an account parameter; a task supports session parameters only"
    if key in USER_PARAMETERS:
        return f"{key.upper()} is a user parameter; a task supports session parameters only"
    return None
