import dagster as dg

from bridge_assets.runtime.settings import BridgeSettings
from bridge_assets.runtime.storage import Database

from .dead_runs import settle_dead_runs


class BridgeResource(dg.ConfigurableResource):
    """Where the bridge keeps its files and database, and how it maps and posts.

    Every setting comes from the environment (see README, "Configuration"); `home` overrides
    BRIDGE_HOME, which tests use to run in a temporary folder.
    """

    home: str | None = None

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """At the start of every run, before its first step asks for a pool slot: a run that died
        without a word (its process gone) is marked failed and its slots freed, so this run proceeds."""
        if context.instance is None or context.run is None:
            return
        run_id = context.run.run_id
        settled = settle_dead_runs(context.instance, exclude=run_id, who=f"run {run_id[:8]} as it started")
        if (settled.failed or settled.freed) and context.log:
            context.log.warning(settled.describe())

    def settings(self) -> BridgeSettings:
        return BridgeSettings.from_env(self.home)

    def database(self) -> Database:
        return Database(self.settings().database_path)


bridge = BridgeResource()
