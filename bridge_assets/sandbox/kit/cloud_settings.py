"""Settings of the small OAuth2 ledger emulators (FreshBooks, Zoho Books, Sage, FreeAgent, MYOB): the kit's
`SettingsBase` whose admin view (`public_mapping`) never shows a registered app's secret."""

from __future__ import annotations

from typing import Any

from bridge_assets.sandbox.kit.settings import SettingsBase


class OAuthAppSettings(SettingsBase):
    """A settings dataclass with `clients` ({client_id: secret}); the secrets are masked in the admin view."""

    def public_mapping(self) -> dict[str, Any]:
        values = self.to_mapping()
        values["clients"] = {client_id: "***" for client_id in self.clients}
        return values
