"""docs: to be written."""
