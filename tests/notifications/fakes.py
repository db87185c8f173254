"""What the notifier tests share: a fixed set of configs (instead of the controller's ConfigMap watch) and an
annotation writer that writes nothing."""

from __future__ import annotations

from rollouts.notifications.config import NotificationConfig


class Static:
    """`Configs` that always answer the one config given."""

    def __init__(self, cfg: NotificationConfig) -> None:
        self.cfg = cfg

    def configs_for(self, namespace: str) -> list[NotificationConfig]:
        return [self.cfg]

    def any_subscriptions(self) -> bool:
        return False


async def no_patch(namespace: str, name: str, annotations: dict[str, str | None]) -> None:
    return None
