"""Errors as JSON with a machine-readable code: ``{"error": {"code": ..., "message": ...}}``.

Bad requests are 4xx with a code a client can branch on (``bad_cursor``,
``inverted_time_range``, ``bad_symbol``, ``limit_out_of_range``...), never a 500.
"""

from __future__ import annotations

from typing import Any

import psycopg
import sqlalchemy.exc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException


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


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(_body(exc.code, exc.message, **exc.details), exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"parameter": ".".join(str(p) for p in e.get("loc", ())[1:]) or None, "problem": e.get("msg", "")}
            for e in exc.errors()
        ]
        return JSONResponse(_body("bad_parameter", "a parameter has the wrong type or form", problems=problems), 400)

    @app.exception_handler(psycopg.OperationalError)
    @app.exception_handler(sqlalchemy.exc.OperationalError)
    async def _database(request: Request, exc: Exception) -> JSONResponse:
        # Transient by nature: the database is down, or picked this read as a deadlock victim during a
        # projection swap. The client may simply ask again.
        message = "the database could not answer this request now; retry shortly"
        return JSONResponse(_body("database_unavailable", message), 503, headers={"Retry-After": "1"})

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse(_body(code, str(exc.detail)), exc.status_code, headers=getattr(exc, "headers", None))
