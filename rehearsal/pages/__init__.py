"""The console's pages, one blueprint each."""
