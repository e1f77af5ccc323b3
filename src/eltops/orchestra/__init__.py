"""Orchestra: the API client, the typed records, and the emulator."""
