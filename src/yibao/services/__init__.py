"""Service layer: one module per capability; owns transaction boundaries and locks."""
