"""Notifications: templates, triggers, subscriptions, services, delivery."""
