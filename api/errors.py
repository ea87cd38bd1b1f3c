"""Errors as JSON with a machine-readable code: ``{"error": {"code": ..., "message": ...}}``.

Bad requests are 4xx with a code a client can branch on (``bad_cursor``,
``inverted_time_range``, ``bad_symbol``, ``limit_out_of_range``...) and, where
one parameter is at fault, its name in ``parameter``; never a 500. Database
failures are mapped here, as the last line behind the checks in ``api.params``:
a value PostgreSQL refuses is the client's 400, a database that cannot serve
now is a 503 with Retry-After. Their own text (hosts, users, SQL) goes to the
server log only.
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg
import sqlalchemy.exc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("aitrader.api")
RETRY_AFTER_S = "1"


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None, **details: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
        self.details = details


def bad_request(code: str, message: str, **details: Any) -> ApiError:
    return ApiError(400, code, message, **details)


def _body(code: str, message: str, **details: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, **details}}


def response(exc: ApiError) -> JSONResponse:
    """The JSON answer for ``exc``; also for middleware, which runs outside the exception handlers."""
    return JSONResponse(_body(exc.code, exc.message, **exc.details), exc.status, headers=exc.headers)


def _retry(code: str, message: str) -> JSONResponse:
    return JSONResponse(_body(code, message), 503, headers={"Retry-After": RETRY_AFTER_S})


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return response(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"parameter": ".".join(str(p) for p in e.get("loc", ())[1:]) or None, "problem": e.get("msg", "")}
            for e in exc.errors()
        ]
        first = next((p["parameter"] for p in problems if p["parameter"]), None)
        return JSONResponse(
            _body("bad_parameter", "a parameter has the wrong type or form", parameter=first, problems=problems), 400
        )

    @app.exception_handler(psycopg.DataError)
    @app.exception_handler(sqlalchemy.exc.DataError)
    async def _refused(request: Request, exc: Exception) -> JSONResponse:
        # A value got past the checks that PostgreSQL cannot take (out of range, malformed): the client's doing.
        log.warning("database refused a value on %s: %s", request.url.path, exc)
        return JSONResponse(_body("value_refused", "a parameter's value is out of the range the database can hold"), 400)

    @app.exception_handler(sqlalchemy.exc.TimeoutError)
    async def _busy(request: Request, exc: Exception) -> JSONResponse:
        # Every pooled connection is in use for longer than the pool's timeout: load, not a fault.
        return _retry("database_busy", "every database connection is busy; retry shortly")

    @app.exception_handler(psycopg.Error)
    @app.exception_handler(sqlalchemy.exc.SQLAlchemyError)
    async def _database(request: Request, exc: Exception) -> JSONResponse:
        # Transient by nature: the database is down or restarting, or a table was swapped under the statement
        # (a projection swap itself never makes a reader its deadlock victim: projections/rebuild.py). The
        # client may simply ask again.
        log.warning("database failure on %s: %s: %s", request.url.path, type(exc).__name__, exc)
        return _retry("database_unavailable", "the database could not answer this request now; retry shortly")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse(_body(code, str(exc.detail)), exc.status_code, headers=getattr(exc, "headers", None))
