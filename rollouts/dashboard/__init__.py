"""The web dashboard (`kubectl rollouts dashboard`): the rollouts of a namespace, a rollout's steps,
revisions and Services, each analysis run's metrics drawn against their conditions, live from the API server's
watches, with the plugin's actions as buttons (docs/dashboard.md)."""
