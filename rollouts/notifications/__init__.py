"""Notifications: Argo Rollouts' triggers, templates and subscriptions, delivered to webhooks, Slack, Teams,
email, PagerDuty and Opsgenie (docs/notifications.md).

Where it sits: between the controller (which calls it when a Rollout's Events are emitted) and the outside
world. The pure parts (`gotemplates`, `config`, `triggers`, `outbox`) compute what to send; `services` and
`delivering` send it off the reconcile path.
"""
