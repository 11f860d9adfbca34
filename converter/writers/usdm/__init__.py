"""CDISC USDM 4.0 writer: one trial as a ``Wrapper`` (``<trial-id>.usdm.json``)."""

from __future__ import annotations

from .study import USDM_VERSION, build_wrapper

__all__ = ["USDM_VERSION", "build_wrapper"]
