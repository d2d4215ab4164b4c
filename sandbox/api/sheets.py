"""sheets: to be written."""
