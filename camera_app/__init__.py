"""The application: config, monitoring, event store, accounts and the ``camera-app`` CLI."""
