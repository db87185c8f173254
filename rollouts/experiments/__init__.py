"""Experiments (argoproj.io/v1alpha1 Experiment): the pure decision of one pass, `decide_experiment`.

observe → decide → apply, as for Rollouts: `rollouts.controller.experimenting` reads an Experiment and what it
owns, calls `decide_experiment`, and applies the plan. docs/semantics/experiments.md.
"""

from rollouts.experiments.deciding import ExperimentObserved, decide_experiment, is_terminating, verify_spec

__all__ = ["ExperimentObserved", "decide_experiment", "is_terminating", "verify_spec"]
