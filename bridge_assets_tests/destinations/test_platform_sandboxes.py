"""`bridge demo` / `ui` stand up the emulator of every named platform (sandbox/destinations.py SANDBOXES): each
starts, hands the bridge an environment its adapter is built from by the registry, keeps its books across a
restart, and starts nothing for a platform whose real account is configured."""

from __future__ import annotations

import pytest

from bridge_assets.destinations.registry import opened
from bridge_assets.runtime.environment import temporary_environment
from bridge_assets.sandbox.destinations import SANDBOXES, platform_sandboxes


@pytest.mark.parametrize("name", sorted(SANDBOXES))
def test_a_named_platform_gets_its_emulator_and_keeps_its_books_across_a_restart(name, tmp_path, settings):
    environments = []
    for _ in range(2):
        with platform_sandboxes(tmp_path / "sandbox", {"BRIDGE_DESTINATIONS": name}) as started:
            [(label, base_url, environment)] = started
            assert base_url.startswith("http://127.0.0.1:") and SANDBOXES[name].label == label
            with temporary_environment(environment), opened(name, settings) as destination:
                assert destination.find("invoice", "424242") is None        # the adapter reaches its books
            environments.append(environment)
    tenant = {key for key in environments[0] if key.endswith(("_ID", "_NUMBER", "_USERNAME", "_COMPANY_FILE"))} - {
        "WAVE_CLIENT_ID", "RECKON_CLIENT_ID"}
    assert tenant and all(environments[0][key] == environments[1][key] for key in tenant)


def test_a_configured_platform_starts_no_emulator(tmp_path):
    name, sandbox = sorted(SANDBOXES.items())[0]
    with platform_sandboxes(tmp_path, {"BRIDGE_DESTINATIONS": name, sandbox.configured_by: "real"}) as started:
        assert started == []
