"""Reference data: instruments come from settings, and nothing unknown gets a default."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from marketdata.calendar import UnknownVenue
from oms.instruments import (
    BUILTIN_INSTRUMENT_SETTINGS,
    Instrument,
    UnknownInstrument,
    instrument,
    instruments_from_settings,
)

NQ = {
    "instrument.NQ.venue": "CME",
    "instrument.NQ.currency": "USD",
    "instrument.NQ.multiplier": "20",
    "instrument.NQ.tick_size": "0.25",
}


def test_the_builtin_es_is_the_sample_days_contract() -> None:
    es = instrument("ES", BUILTIN_INSTRUMENT_SETTINGS)
    assert es == Instrument("ES", "CME", "USD", D(50), D("0.25"), D("2.25"))
    assert es.is_on_tick(D("1650.75")) and not es.is_on_tick(D("1650.10"))
    assert instruments_from_settings(es.to_settings()) == {"ES": es}


def test_an_instrument_defined_by_settings_sits_beside_the_others() -> None:
    found = instruments_from_settings({**BUILTIN_INSTRUMENT_SETTINGS, **NQ, "risk.max_position": "3"})
    assert sorted(found) == ["ES", "NQ"]
    assert found["NQ"].multiplier == 20 and found["NQ"].fee_per_unit == 0


def test_an_undefined_symbol_is_unknown_not_priced_like_es() -> None:
    with pytest.raises(UnknownInstrument, match="instrument.NQ.venue"):
        instrument("NQ", BUILTIN_INSTRUMENT_SETTINGS)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"instrument.NQ.venue": "LSEX"}, "unknown venue 'LSEX'"),
        ({"instrument.NQ.currency": "usd"}, "three-letter"),
        ({"instrument.NQ.tick_size": "0"}, "must be > 0"),
        ({"instrument.NQ.multiplier": "-5"}, "instrument.NQ.multiplier"),
        ({"instrument.NQ.fee": "1"}, "unknown setting 'instrument.NQ.fee'"),
        ({"instrument.NQ": "1"}, "expected instrument.<SYMBOL>.<field>"),
    ],
)
def test_a_bad_definition_is_refused_naming_what_is_wrong(change: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        instruments_from_settings({**NQ, **change})


def test_a_definition_missing_a_field_is_refused_naming_it() -> None:
    partial = {k: v for k, v in NQ.items() if not k.endswith(".multiplier")}
    with pytest.raises(ValueError, match="missing setting.*instrument.NQ.multiplier"):
        instruments_from_settings(partial)


def test_unknown_venue_is_its_own_error() -> None:
    with pytest.raises(UnknownVenue):
        Instrument("NQ", "NOWHERE", "USD", D(20), D("0.25"))
