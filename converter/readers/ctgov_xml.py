"""Placeholder: being written."""
from __future__ import annotations
from typing import Iterator
from .base import ReadResult

NAME = "ctgov-xml"


class _Reader:
    name = NAME
    description = "stub"

    @staticmethod
    def sniff(head: bytes) -> float:
        return 0.0

    @staticmethod
    def read(data: bytes, source: str) -> Iterator[ReadResult]:
        return iter(())


READER = _Reader()
