"""docs/notifications.md stays true: its verification snippet verifies real signatures, and its
payload examples have the shape events_for produces."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

from tasksql.notify.backoff import RetryPolicy
from tasksql.notify.webhook import sign

DOC = Path(__file__).parents[2] / "docs" / "notifications.md"
TEXT = DOC.read_text(encoding="utf-8")


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", TEXT, re.S)


def test_the_python_verification_snippet_accepts_real_signatures_only() -> None:
    [snippet] = blocks("python")
    namespace: dict[str, Any] = {}
    exec(snippet, namespace)
    verify = namespace["verify"]
    body = b'{"version":"1.0","messageId":"m"}'
    header = sign("whsec_x", int(time.time()), body)

    assert verify("whsec_x", header, body)
    assert not verify("whsec_y", header, body)
    assert not verify("whsec_x", header, body + b"\n")
    assert not verify("whsec_x", sign("whsec_x", int(time.time()) - 3600, body), body)


def test_every_payload_example_is_json_of_the_documented_shape() -> None:
    examples = [json.loads(b) for b in blocks("json")]
    assert [e["messageType"] for e in examples] == [
        "TASK_FAILED",
        "TASK_AUTO_SUSPENDED",
        "TASK_SUCCEEDED",
        "TASK_RECOVERED",
    ]
    head = ["version", "messageId", "messageType", "timestamp", "tenantId", "taskName", "taskId"]
    for example in examples:
        assert list(example)[: len(head)] == head
        assert f"`{list(example)[-1]}`" in TEXT  # every field is in the field table


def test_the_documented_retry_schedule_is_the_policy() -> None:
    policy = RetryPolicy()
    waits = [int(policy.delay(n).total_seconds()) for n in range(1, 11)]
    row = "| waits before it | 0 | " + " | ".join(f"{w} s" for w in waits[:9]) + " | 300 s each |"
    assert row in TEXT
    assert f"After the {policy.max_attempts}th attempt" in TEXT
