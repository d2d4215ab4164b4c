"""One exception tree for the whole product; `run.py` turns each into one plain
line on stderr (what is wrong and how to fix it) and a non-zero exit."""
from __future__ import annotations


class HoithaoError(Exception):
    """A problem the user can fix; the message says what and how."""

    exit_code = 1


class ConfigError(HoithaoError):
    """config.yaml (or a HOITHAO_* variable) is missing, malformed or invalid."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(problems[0] if len(problems) == 1 else
                         f"Cấu hình có {len(problems)} lỗi: " + "; ".join(problems))


class CredentialsError(HoithaoError):
    """A key or token file is missing, unreadable, or too widely readable."""


class SheetSchemaError(HoithaoError):
    """A tab or header the configuration names is not in the spreadsheet."""


class TemplateError(HoithaoError):
    """A mail or document template cannot be rendered."""


class ApiError(HoithaoError):
    """A Google call failed (after any retries); made only by
    workspace.google_errors. `refused`: Google certainly did not apply it;
    `ambiguous`: no clear answer, it may have been applied."""

    def __init__(self, message: str, code: int | None = None, reason: str | None = None,
                 refused: bool = False, ambiguous: bool = False, kind: str = "http"):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.refused = refused
        self.ambiguous = ambiguous
        # "http", "missing_tab", "not_found_spreadsheet", "not_shared", "read_only",
        # "auth", "network", "busy" (see workspace.google_errors.Failure)
        self.kind = kind


class JobBusy(HoithaoError):
    """Another run holds a lock this run needs (the same job, or one writing the same tabs)."""


class NotBuiltYet(HoithaoError):
    """A command whose job is not implemented yet (exit 2, never a pretend run)."""

    exit_code = 2


class UsageError(HoithaoError):
    """Options that cannot go together, or a value out of range (exit 2)."""

    exit_code = 2
