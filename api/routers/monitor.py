"""WS /api/ws/monitor: live events from the log, filtered by symbol and type.

Query: ``symbol`` (repeatable or comma-separated), ``types`` (comma-separated
event type names; ticks only when asked for), ``key`` (or the usual headers).
The first message says what was subscribed; then one JSON message per event
(``kernel.jsonview.record_view``). Refusals close the socket with code 4000 +
the HTTP status and the error code as the reason (4401, 4403, 4429, 4400,
4503); a client that falls ``monitor_buffer`` events behind is closed with
1013 and the reason ``slow_consumer``.
"""

from __future__ import annotations

import asyncio
import contextlib

from fastapi import APIRouter, WebSocket
from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocketDisconnect

from api import params
from api.auth import MONITOR, authorize, presented_key
from api.errors import ApiError
from api.monitor import DEFAULT_TYPES, EVENT_TYPES, Subscriber, Tailer

router = APIRouter(tags=["monitor"])
CLOSE_TIMEOUT_S = 2.0
SLOW = 1013  # "try again later"


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


async def _send(websocket: WebSocket, subscriber: Subscriber) -> None:
    while True:
        await websocket.send_json(await subscriber.queue.get())


async def _until_disconnect(websocket: WebSocket) -> None:
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            await websocket.receive_text()  # clients have nothing to say; this notices them leaving


@router.websocket("/api/ws/monitor")
async def monitor(websocket: WebSocket) -> None:
    await websocket.accept()
    state = websocket.app.state
    tailer: Tailer | None = state.tailer
    try:
        key = presented_key(websocket.headers) or websocket.query_params.get("key")
        await authorize(state.authenticator, key, MONITOR)
        symbols, types = _filters(websocket)
        if tailer is None:
            raise ApiError(503, "monitor_unavailable", "the API runs without a broker")
    except ApiError as exc:
        await websocket.close(code=4000 + exc.status, reason=exc.code)
        return
    buffer = state.settings.monitor_buffer
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
        }
        done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        if overflow in done:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(websocket.close(code=SLOW, reason="slow_consumer"), CLOSE_TIMEOUT_S)
        else:
            for task in done:
                with contextlib.suppress(WebSocketDisconnect):
                    task.result()  # a failed send surfaces here
    finally:
        tailer.unsubscribe(subscriber)
