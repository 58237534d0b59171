"""Benchmarks (run by ``yibao bench ...`` and the scripts in bench/): each prints its
numbers next to a baseline measured in the same run, never asserts a time."""
