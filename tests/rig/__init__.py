"""Helpers that run real external systems for the integration tests (no fakes)."""
