"""rollouts: progressive delivery for Kubernetes, compatible with Argo Rollouts manifests.

The package has one face per user: the in-cluster controller (`rollouts.controller`), the kubectl plugin
(`rollouts.plugin`), and local tools that need no cluster (`rollouts plan`, `rollouts sandbox`, `rollouts demo`,
and `rollouts analyze` from the sibling package `analysis`). The pure core lives in `rollouts.strategy` and
`rollouts.traffic`; the only code that talks to Kubernetes lives in `rollouts.kube`.
"""

__version__ = "0.1.0"
