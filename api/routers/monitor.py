"""WS /api/ws/monitor: live events from the log, filtered by symbol and type.

Query: ``symbol`` (repeatable or comma-separated), ``types`` (comma-separated
event type names; ticks only when asked for). The key comes in the usual
headers or, for clients that cannot set headers (browsers), as the first
message, ``{"key": "<key>"}``, within ``ws_auth_timeout_s``. Never in the URL:
URLs end up in access logs and proxies' logs, so a ``key`` query parameter is
refused outright (4400 ``key_in_query``), whether the key is good or not.

The first message from the server says what was subscribed; then one JSON
message per event (``contract.jsonview.record_view``). Refusals close the socket
with code 4000 + the HTTP status and the error code as the reason (4401, 4403,
4429, 4400, 4503); revoking the key closes its open sockets with 4401
``key_revoked``; a client that falls ``monitor_buffer`` events behind is closed
with 1013 and the reason ``slow_consumer``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable

import psycopg
import sqlalchemy.exc
from fastapi import APIRouter, WebSocket
from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocketDisconnect

from api import keys, params
from api.auth import MONITOR, address, authorize, presented_key, unauthenticated
from api.errors import ApiError
from api.monitor import DEFAULT_TYPES, EVENT_TYPES, Subscriber, Tailer

router = APIRouter(tags=["monitor"])
CLOSE_TIMEOUT_S = 2.0
SLOW = 1013  # "try again later"
MAX_AUTH_MESSAGE = 1024


def _filters(websocket: WebSocket) -> tuple[frozenset[str] | None, frozenset[str]]:
    query = websocket.query_params
    symbols = [s for raw in query.getlist("symbol") for s in raw.split(",") if s]
    for symbol in symbols:
        params.symbol(symbol)
    types = [t for t in query.get("types", "").split(",") if t]
    unknown = sorted(set(types) - set(EVENT_TYPES))
    if unknown:
        raise ApiError(400, "bad_types", f"unknown event types {', '.join(unknown)}; known: {', '.join(EVENT_TYPES)}")
    return (frozenset(symbols) or None), (frozenset(types) or DEFAULT_TYPES)


async def _key(websocket: WebSocket) -> str:
    """The key from the headers, else from the first message; never from the query string."""
    if "key" in websocket.query_params:
        raise ApiError(400, "key_in_query", "send the key in a header or the first message, never in the URL")
    key = presented_key(websocket.headers)
    if key is not None:
        return key
    timeout = websocket.app.state.settings.ws_auth_timeout_s
    try:
        message = await asyncio.wait_for(websocket.receive_text(), timeout)
        body = json.loads(message) if len(message) <= MAX_AUTH_MESSAGE else None
    except (asyncio.TimeoutError, ValueError, KeyError):
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("key"), str):
        raise unauthenticated('an API key is required: a header, or {"key": "<key>"} as the first message')
    return body["key"]


async def _send(websocket: WebSocket, subscriber: Subscriber) -> None:
    while True:
        await websocket.send_json(await subscriber.queue.get())


async def _until_disconnect(websocket: WebSocket) -> None:
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            await websocket.receive_text()  # clients have nothing more to say; this notices them leaving


@router.websocket("/api/ws/monitor")
async def monitor(websocket: WebSocket) -> None:
    await websocket.accept()
    state = websocket.app.state
    tailer: Tailer | None = state.tailer
    loop = asyncio.get_running_loop()
    revoked = asyncio.Event()
    unwatch: Callable[[], None] = lambda: None  # noqa: E731
    try:
        key = await _key(websocket)
        # Watched before it is verified: a revocation landing between the two still closes this socket.
        key_id = keys.key_id(key)
        if key_id is not None:
            unwatch = state.authenticator.watch(key_id, lambda: loop.call_soon_threadsafe(revoked.set))
        await authorize(state.authenticator, key, MONITOR, address(websocket))
        symbols, types = _filters(websocket)
        if tailer is None:
            raise ApiError(503, "monitor_unavailable", "the API runs without a broker")
    except (ApiError, psycopg.Error, sqlalchemy.exc.SQLAlchemyError) as exc:
        unwatch()
        status, code = (exc.status, exc.code) if isinstance(exc, ApiError) else (503, "database_unavailable")
        await websocket.close(code=4000 + status, reason=code)
        return
    try:
        await _stream(websocket, tailer, symbols, types, revoked)
    finally:
        unwatch()


async def _stream(
    websocket: WebSocket, tailer: Tailer, symbols: frozenset[str] | None, types: frozenset[str], revoked: asyncio.Event
) -> None:
    buffer = websocket.app.state.settings.monitor_buffer
    subscriber = Subscriber(asyncio.get_running_loop(), symbols, types, buffer)
    await run_in_threadpool(tailer.subscribe, subscriber)
    try:
        if tailer.error:
            await websocket.close(code=4503, reason="monitor_unavailable")
            return
        await websocket.send_json(
            {"type": "subscribed", "symbols": sorted(symbols) if symbols else None, "types": sorted(types), "buffer": buffer}
        )
        tasks = {
            asyncio.create_task(_send(websocket, subscriber)),
            asyncio.create_task(_until_disconnect(websocket)),
            overflow := asyncio.create_task(subscriber.overflowed.wait()),
            ended := asyncio.create_task(revoked.wait()),
        }
        done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        closing = {overflow: (SLOW, "slow_consumer"), ended: (4401, "key_revoked")}
        for task in done:
            if task in closing:
                code, reason = closing[task]
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(websocket.close(code=code, reason=reason), CLOSE_TIMEOUT_S)
                return
        for task in done:
            with contextlib.suppress(WebSocketDisconnect):
                task.result()  # a failed send surfaces here
    finally:
        tailer.unsubscribe(subscriber)
