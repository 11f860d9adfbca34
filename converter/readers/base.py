"""What every reader provides. A reader knows one input format and nothing of FHIR or CDISC."""

from __future__ import annotations

from typing import Iterator, Protocol, Union

from ..errors import ConversionError
from ..model import Trial

ReadResult = Union[Trial, ConversionError]


class Reader(Protocol):
    """A format reader.

    ``sniff`` looks only at the first bytes of an input (content, never the file name) and returns a
    confidence 0..1, so detection is cheap and a new format is one module plus a registry line.
    ``read`` yields trials one at a time so a dump of any size never sits in memory as models.
    A bad record is *yielded* as a :class:`converter.errors.ConversionError` naming record and field
    (not raised), so the reader goes on with the next record of the same file; raising is kept for
    a file that cannot be read at all.
    """

    name: str
    description: str

    def sniff(self, head: bytes) -> float: ...

    def read(self, data: bytes, source: str) -> Iterator[ReadResult]: ...
