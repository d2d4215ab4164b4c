"""The rehearsal console: a local web application over a sandbox, in which
staff rehearse the event (the spreadsheet, the forms, the mail, the documents,
the jobs) without a Google account. Started by `python run.py sandbox
console`; it stands on top, beside run.py: it may use the jobs' registry, the
workspace and the sandbox, and nothing imports it."""
