"""A local stand-in for the Google APIs hoithao uses (Sheets v4, Drive v3,
Gmail v1, Docs v1, Forms v1 and the OAuth token endpoint), served over HTTP on
127.0.0.1 and persisted in SQLite under a data folder."""
