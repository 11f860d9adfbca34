"""What every reader provides. A reader knows one input format and nothing of FHIR or CDISC."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator, Union

from ..errors import ConversionError
from ..model import Trial

ReadResult = Union[Trial, ConversionError]


@dataclass(frozen=True)
class Reader:
    """A format reader, registered with one line in :mod:`converter.readers`.

    ``sniff`` looks only at the first bytes of an input (content, never the file name) and returns a
    confidence 0..1, so detection is cheap and a new format is one module plus a registry line.
    ``read`` yields trials one at a time so a dump of any size never sits in memory as models.
    A bad record is *yielded* as a :class:`converter.errors.ConversionError` naming record and field
    (not raised), so the reader goes on with the next record of the same file; raising is kept for
    a file that cannot be read at all.
    """

    name: str
    description: str
    sniff: Callable[[bytes], float]
    read: Callable[[bytes, str], Iterator[ReadResult]]
