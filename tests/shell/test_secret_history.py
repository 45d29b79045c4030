"""The shell's history file never keeps a literal SECRET_STRING (CREATE / ALTER SECRET): it is
masked, same length, before it is written; other input is kept as typed."""

from __future__ import annotations

from pathlib import Path

from tasksql.shell.loop import _SecretSafeHistory


def test_a_literal_secret_is_masked_in_the_history_file(tmp_path: Path) -> None:
    path = tmp_path / ".shell_history"
    history = _SecretSafeHistory(str(path))
    typed = "CREATE SECRET s TYPE = GENERIC_STRING SECRET_STRING = 'T0/B0/XXhistorySECRET';"
    history.append_string(typed)
    history.append_string("SELECT 'SECRET_STRING = 1'")
    history.append_string("ALTER SECRET s SET SECRET_STRING = ENV 'SLACK_TOKEN'")
    text = path.read_text(encoding="utf-8")
    assert "XXhistorySECRET" not in text
    assert "SECRET_STRING = '" + "*" * len("T0/B0/XXhistorySECRET") + "'" in text
    assert "SELECT 'SECRET_STRING = 1'" in text  # not a secret statement: as typed
    assert "ENV 'SLACK_TOKEN'" in text  # a variable's name is no secret
