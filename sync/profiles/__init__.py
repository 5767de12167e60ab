"""Field mappings (data): one JSON file per adapter and profile, read by `sync.mapping.load_profile`."""
