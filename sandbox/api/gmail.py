"""gmail: to be written."""
