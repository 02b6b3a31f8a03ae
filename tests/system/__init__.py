"""Cross-cutting tests of the whole system: the real service end to end, the deploy tree, the
systemd units and sandbox, the broker's security."""
