"""What the reconcilers report, as Protocols, and a reporter that records nothing.

`rollouts.controller.metrics.ControllerMetrics` (the Prometheus metrics) satisfies both Protocols, which mypy
checks where the manager hands it to the reconcilers; `NoMetrics` is what a reconciler built without metrics
reports to (tests, one-off tools).
"""

from __future__ import annotations

from typing import Any, Protocol


class RolloutMetrics(Protocol):
    """What the Rollout reconciler reports."""

    def observe_reconcile(
        self, kind: str, namespace: str, name: str, seconds: float, *, error: bool
    ) -> None: ...
    def count_event(self, namespace: str, name: str, type_: str, reason: str) -> None: ...
    def count_event_dropped(self, kind: str, type_: str, reason: str, cause: str = "refused") -> None: ...
    def count_internal_error(self, kind: str) -> None: ...
    def observe_rollout(self, rollout: dict[str, Any]) -> None: ...
    def observe_rollout_duration(self, status: str, total: float, manual_pause: float) -> None: ...
    def forget_rollout(self, namespace: str, name: str) -> None: ...


class AnalysisMetrics(Protocol):
    """What the AnalysisRun reconciler reports."""

    def observe_reconcile(
        self, kind: str, namespace: str, name: str, seconds: float, *, error: bool
    ) -> None: ...
    def observe_analysis_run(self, run: dict[str, Any]) -> None: ...
    def forget_analysis_run(self, namespace: str, name: str) -> None: ...


class NoMetrics:
    """Records nothing (satisfies `RolloutMetrics` and `AnalysisMetrics`)."""

    def observe_reconcile(self, kind: str, namespace: str, name: str, seconds: float, *, error: bool) -> None:
        pass

    def count_event(self, namespace: str, name: str, type_: str, reason: str) -> None:
        pass

    def count_event_dropped(self, kind: str, type_: str, reason: str, cause: str = "refused") -> None:
        pass

    def count_internal_error(self, kind: str) -> None:
        pass

    def observe_rollout(self, rollout: dict[str, Any]) -> None:
        pass

    def observe_rollout_duration(self, status: str, total: float, manual_pause: float) -> None:
        pass

    def forget_rollout(self, namespace: str, name: str) -> None:
        pass

    def observe_analysis_run(self, run: dict[str, Any]) -> None:
        pass

    def forget_analysis_run(self, namespace: str, name: str) -> None:
        pass
