"""One module per job: read -> decide (pure) -> write -> log."""
