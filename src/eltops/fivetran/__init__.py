"""Fivetran: the API client, the orchestrator that drives syncs from CI, and the emulator."""
