"""The other nodes of the cluster, as the HTTP API asks them for what only they know.

Tasks, runs and the cluster itself are catalog reads: any node answers them alone. What lives in a
node's process (the ad-hoc queries it runs now, cancelling one of them) is asked of each node at the
address it recorded when it joined (``system.cluster.address``, the ``node_address`` setting): the
node that received the request answers for itself and asks the others with ``?local=true``, so a
request is forwarded once, never around.

A peer is asked when its lease is live or draining; one that cannot be reached within
:data:`PEER_TIMEOUT_S` is reported, never waited for longer.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import aiohttp

from tasksql.client import API_PREFIX
from tasksql.engine import Engine
from tasksql.model.cluster import member_state

#: How long a peer gets to answer a forwarded request.
PEER_TIMEOUT_S = 3.0


@dataclass(frozen=True, slots=True)
class Peer:
    node_id: str
    address: str


@dataclass(frozen=True, slots=True)
class PeerAnswer:
    """What one peer answered: its HTTP status and JSON body, or why it could not be asked."""

    peer: Peer
    status: int | None = None
    body: dict[str, Any] | None = None
    error: str | None = None


def this_node(engine: Engine) -> str:
    """This node's id (the scheduler's, else the settings')."""
    return engine.scheduler.node_id if engine.scheduler is not None else engine.settings.effective_node_id


async def peers(engine: Engine) -> list[Peer]:
    """The other nodes with a live (or draining) lease and an address, by node id."""
    me = this_node(engine)
    found = [
        Peer(m.node_id, m.address.rstrip("/"))
        for m in await engine.catalog.cluster_members()
        if m.node_id != me and m.address and member_state(m) in ("live", "draining")
    ]
    return sorted(found, key=lambda p: p.node_id)


async def ask_all(method: str, path: str, targets: list[Peer], token: str | None = None) -> list[PeerAnswer]:
    """``method`` ``API_PREFIX + path`` with ``?local=true`` on every peer at once, with the API
    token the caller presented (the nodes of a cluster that needs one share it)."""
    if not targets:
        return []
    timeout = aiohttp.ClientTimeout(total=PEER_TIMEOUT_S)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession(timeout=timeout, headers=headers) as session:
        return list(await asyncio.gather(*(_ask(session, method, path, p) for p in targets)))


async def _ask(session: aiohttp.ClientSession, method: str, path: str, peer: Peer) -> PeerAnswer:
    url = f"{peer.address}{API_PREFIX}{path}"
    try:
        async with session.request(method, url, params={"local": "true"}) as response:
            body = await response.json(content_type=None)
            if not isinstance(body, dict):
                return PeerAnswer(peer, error=f"node {peer.node_id} answered {response.status} without JSON")
            return PeerAnswer(peer, status=response.status, body=body)
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        reason = str(exc) or type(exc).__name__
        return PeerAnswer(peer, error=f"node {peer.node_id} at {peer.address} could not be asked: {reason}")


def unreachable(answers: list[PeerAnswer]) -> list[dict[str, Any]]:
    """The peers that gave no usable answer, as API objects."""
    out: list[dict[str, Any]] = []
    for a in answers:
        if a.error is not None:
            out.append({"node_id": a.peer.node_id, "address": a.peer.address, "error": a.error})
        elif a.status is not None and a.status >= 500:
            out.append({"node_id": a.peer.node_id, "address": a.peer.address, "error": f"HTTP {a.status}"})
    return out
