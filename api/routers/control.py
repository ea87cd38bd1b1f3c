"""POST /api/control/*: ops' kill switch and configuration changes, as events on the kernel's input (ops).

The events go through ``eventlog.control`` like ``aitrader control``: onto the
input partition of the symbol (every partition without one), stamped with that
partition's current event time, never the wall clock. The actor recorded on
the event is the name of the API key's owner. The answer is 202: the events
are on the log, and the kernel applies them when it reaches them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from confluent_kafka import KafkaException
from fastapi import APIRouter, Depends, Request
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from api import params
from api.auth import require
from api.errors import ApiError
from api.inputs import printable
from api.keys import Principal
from api.serialize import iso_time
from api.settings import ApiSettings
from contract.events import Event, TradingState
from contract.topics import INPUTS, Namespace
from eventlog.control import publish_settings, publish_trading_state
from eventlog.kafka_security import KafkaSecurity
from eventlog.producer import DeliveryError
from kernel.settings import validate_change

OPS = ("ops",)
router = APIRouter(tags=["control"])
REASON = Field(min_length=1, max_length=500, description="Why: recorded on the event for auditors.")
SYMBOL = Field(None, description="Only this symbol; every symbol (every input partition) when absent.")


Text = Annotated[str, AfterValidator(printable)]


class TradingStateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state: TradingState
    symbol: Text | None = SYMBOL
    reason: Text = REASON


class SettingsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    settings: dict[Annotated[Text, Field(max_length=200)], Annotated[Text, Field(max_length=200)]] = Field(
        min_length=1, max_length=100, description="Flat settings, e.g. {\"strategy.threshold\": \"0.4\"}."
    )
    symbol: Text | None = SYMBOL
    reason: Text = REASON


def _bootstrap(settings: ApiSettings) -> str:
    if settings.bootstrap is None:
        raise ApiError(503, "broker_unavailable", "the API runs without a broker: control events cannot be written")
    return settings.bootstrap


def _written(request: Request, kind: str, written: list[tuple[int, Event]]) -> dict[str, Any]:
    topic = request.app.state.settings.namespace.topic(INPUTS)
    return {
        "type": kind,
        "topic": topic,
        "events": [
            {
                "event_id": event.event_id,
                "partition": partition,
                "event_time": iso_time(event.event_time_ms),
                "event_time_ms": event.event_time_ms,
            }
            for partition, event in written
        ],
    }


Send = Callable[[str, Namespace, KafkaSecurity | None], list[tuple[int, Event]]]


def _publish(request: Request, kind: str, send: Send) -> dict[str, Any]:
    """Runs ``send`` with the control login; a broker that cannot take the events is a 503 with the reason."""
    settings: ApiSettings = request.app.state.settings
    bootstrap = _bootstrap(settings)
    try:
        return _written(request, kind, send(bootstrap, settings.namespace, settings.control_login))
    except (KafkaException, DeliveryError) as exc:
        raise ApiError(503, "broker_unavailable", f"the control event was not written: {exc}") from None


@router.post("/api/control/trading-state", status_code=202, summary="Kill switch: HALTED, REDUCING or ACTIVE")
def trading_state(
    request: Request, body: TradingStateRequest, principal: Principal = Depends(require(*OPS))
) -> dict[str, Any]:
    symbol = params.symbol(body.symbol)
    return _publish(
        request,
        "TradingStateChanged",
        lambda bootstrap, namespace, login: publish_trading_state(
            bootstrap, namespace, body.state, symbol, body.reason, principal.name, login
        ),
    )


@router.post("/api/control/settings", status_code=202, summary="Change settings from this point of the log on")
def change_settings(
    request: Request, body: SettingsRequest, principal: Principal = Depends(require(*OPS))
) -> dict[str, Any]:
    symbol = params.symbol(body.symbol)
    try:
        validate_change(body.settings, symbol)
    except ValueError as exc:
        raise ApiError(422, "settings_refused", str(exc)) from None
    return _publish(
        request,
        "ConfigChanged",
        lambda bootstrap, namespace, login: publish_settings(
            bootstrap, namespace, body.settings, symbol, body.reason, principal.name, login
        ),
    )
