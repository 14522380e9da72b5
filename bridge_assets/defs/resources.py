import dagster as dg

from bridge_assets.settings import BridgeSettings
from bridge_assets.storage import Database


class BridgeResource(dg.ConfigurableResource):
    """Where the bridge keeps its files and database, and how it maps and posts.

    Every setting comes from the environment (see README, "Configuration"); `home` overrides
    BRIDGE_HOME, which tests use to run in a temporary folder.
    """

    home: str | None = None

    def settings(self) -> BridgeSettings:
        return BridgeSettings.from_env(self.home)

    def database(self) -> Database:
        return Database(self.settings().database_path)


bridge = BridgeResource()
