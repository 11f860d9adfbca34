"""One exception type for everything that can go wrong with a record, so callers catch one thing."""

from __future__ import annotations

from typing import Optional

from .safety import for_terminal


class ConversionError(Exception):
    """A record could not be read, converted or validated.

    Carries the record (trial id or source position) and the field path, because a batch of 500,000
    records is only debuggable when every error says exactly where it is.
    """

    def __init__(self, message: str, *, record: Optional[str] = None, field: Optional[str] = None, stage: Optional[str] = None) -> None:
        self.message = message
        self.record = record
        self.field = field
        self.stage = stage
        super().__init__(str(self))

    def __reduce__(self):  # keep record/field/problems when results cross process boundaries
        return (_rebuild, (type(self), self.__dict__.copy()))

    def __str__(self) -> str:
        where = []
        if self.record:  # names come from untrusted text: no control, bidi or zero-width character is shown raw
            where.append(f"record {for_terminal(self.record)}")
        if self.field:
            where.append(f"field {for_terminal(self.field)}")
        prefix = f"[{self.stage}] " if self.stage else ""
        return f"{prefix}{', '.join(where)}: {self.message}" if where else f"{prefix}{self.message}"


class ValidationError(ConversionError):
    """Output failed validation; ``problems`` lists every failing path so all can be fixed at once."""

    def __init__(self, message: str, *, problems: list[str], record: Optional[str] = None, field: Optional[str] = None) -> None:
        self.problems = problems
        super().__init__(message, record=record, field=field, stage="validate")

    def __str__(self) -> str:
        base = super().__str__()
        shown = "\n  ".join(self.problems[:20])
        more = f"\n  … and {len(self.problems) - 20} more" if len(self.problems) > 20 else ""
        return f"{base}\n  {shown}{more}" if self.problems else base


def _rebuild(cls: type, state: dict) -> ConversionError:
    error = cls.__new__(cls)
    error.__dict__.update(state)
    Exception.__init__(error, str(error))
    return error
