"""Pure domain: money, codes, policies, catalogue classification, the settlement engine.

Imports only the standard library; no I/O, no clock, no randomness.
"""
