"""forms: to be written."""
