"""The first billing period comes from configuration, else the data, else the last 12 months (issue 11 point 5)."""

import datetime as dt

import pytest

from bridge_assets.runtime import periods
from bridge_assets.runtime.settings import BridgeSettings

from .conftest import line, receive_and_map, write_export

TODAY = dt.date(2026, 12, 5)


def _settings(settings, monkeypatch, value=None) -> BridgeSettings:
    if value is None:
        monkeypatch.delenv("BRIDGE_FIRST_PERIOD", raising=False)
    else:
        monkeypatch.setenv("BRIDGE_FIRST_PERIOD", value)
    return BridgeSettings.from_env(settings.home)


def test_a_fresh_install_keeps_the_last_twelve_months(settings, monkeypatch):
    assert periods.first_period(_settings(settings, monkeypatch), TODAY) == "2026-01"
    assert periods.months_before(dt.date(2027, 1, 31), 12) == "2026-02"


def test_the_earliest_period_in_the_data_is_found_and_remembered(settings, db, monkeypatch):
    write_export(settings.inbox / "q3.csv", [line(number="1", date="09/01/2026"),
                                            line(number="2", date="10/02/2026", start="10/01/2026", end="10/31/2026")])
    receive_and_map(db, settings, sorted(settings.inbox.glob("*.csv")), ["2026-09", "2026-10"])
    current = _settings(settings, monkeypatch)
    assert periods.first_period(current, TODAY) == "2026-09"
    assert (current.work / periods.PIN_FILE).read_text().strip() == "2026-09"
    # Later loads read the remembered period without opening the database (a run may be writing it).
    current.database_path.unlink()
    assert periods.first_period(current, TODAY) == "2026-09"


def test_configuration_wins_and_a_bad_value_is_refused_by_name(settings, monkeypatch):
    assert periods.first_period(_settings(settings, monkeypatch, "2024-03"), TODAY) == "2024-03"
    with pytest.raises(ValueError, match="BRIDGE_FIRST_PERIOD='2024-3'.*YYYY-MM"):
        periods.first_period(_settings(settings, monkeypatch, "2024-3"), TODAY)
