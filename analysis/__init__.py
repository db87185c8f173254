"""analysis: AnalysisTemplates evaluated against metric providers, with Argo Rollouts' semantics.

Pure parts (`conditions`, `args`, `assess`, `schedule`) decide; `runner` drives a run against `providers`
and an injected clock. This package never imports `rollouts` or `kubernetes`: the controller feeds it.
"""
