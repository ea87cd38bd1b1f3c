"""The FastAPI application: ``create_app(settings)``; ``aitrader run api`` serves it with uvicorn."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from api import errors, inputs, redact
from api.auth import Authenticator
from api.broker import BrokerProbe
from api.console import headers, pages
from api.database import Database
from api.metrics import ApiMetrics
from api.monitor import Tailer
from api.pagination import Cursors
from api.revocations import RevocationListener
from api.routers import (
    audit,
    bars,
    control,
    events,
    export,
    fills,
    health,
    ledger,
    monitor,
    orders,
    replays,
    signals,
    trace,
)
from api.sessions import Sessions
from api.settings import ApiSettings
from contract import __version__
from projections.db import auth_schema

DESCRIPTION = """Read models of AITrader, projected exactly once from the event log.

* Money, prices and quantities are decimal strings; times are ISO 8601 with a zone.
* Lists are oldest first with keyset pagination: pass `next_cursor` back as `cursor` (signed: use it as given).
* Every response carries `as_of`: the log offsets applied and the latest event time.
* Errors: `{"error": {"code", "message", "parameter"?}}` with a stable `code`; 503s carry `Retry-After`.
* Authentication: `Authorization: Bearer <key>` (keys from `aitrader users add`); the monitor WebSocket takes
  the same headers or `{"key": "<key>"}` as its first message, never a key in the URL.
"""


def create_app(settings: ApiSettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        redact.install()
        database = Database(settings)
        authenticator = Authenticator(database, settings)
        revocations = RevocationListener(
            settings.database_url, auth_schema(settings.schema), authenticator.revoked, authenticator.deaf, authenticator.listening
        )
        app.state.database = database
        app.state.authenticator = authenticator
        app.state.broker = BrokerProbe(settings.bootstrap, settings.namespace) if settings.bootstrap else None
        app.state.tailer = Tailer(settings.bootstrap, settings.namespace) if settings.bootstrap else None
        revocations.start()
        try:
            yield
        finally:
            revocations.close()
            if app.state.tailer is not None:
                app.state.tailer.close()
            if app.state.broker is not None:
                app.state.broker.close()
            database.dispose()

    app = FastAPI(title="AITrader read models", version=__version__, description=DESCRIPTION, lifespan=lifespan)
    app.state.settings = settings
    app.state.cursors = Cursors(settings.cursor_key)
    app.state.ready = health.Recent(settings.ready_cache_s)
    app.state.metrics = ApiMetrics()
    app.state.sessions = Sessions(settings.console_session_s)
    app.state.export_blocks = itertools.count(1)  # what a mid-export fault counts (api.routers.export)
    # Plain ASGI middleware (the last added is outermost): BaseHTTPMiddleware's task and stream per request cost
    # more CPU than a 100-row page's query.
    app.add_middleware(headers.Secure)
    app.add_middleware(inputs.Guard)  # inside the metrics: refusals are counted too
    app.add_middleware(app.state.metrics.middleware)
    errors.install(app)
    for module in (health, signals, trace, orders, fills, ledger, bars, events, export, monitor, audit, control, replays):
        app.include_router(module.router)
    app.include_router(pages.router)
    app.mount("/console/static", StaticFiles(directory=pages.STATIC), name="console-static")
    return app
