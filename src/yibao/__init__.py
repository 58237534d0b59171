"""yibao: medical-insurance real-time settlement over the national hospital interface."""

__version__ = "0.1.0"
