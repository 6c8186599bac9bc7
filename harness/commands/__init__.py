"""Sub-command groups of the `harness` CLI, each with a register(app) function."""
