"""sgen: choose how to spend a teacher model's queries on synthetic training data."""

__version__ = "0.1.0"
