"""HTTP entrypoints: the national hospital interface (one route) and health."""
