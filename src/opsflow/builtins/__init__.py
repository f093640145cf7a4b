"""opsflow's own default plugins, registered through the same hooks as any other."""
