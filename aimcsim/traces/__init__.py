"""Trace generators: transformer configurations -> workload documents."""

from aimcsim.traces.mobilebert import MOBILEBERT_UNCASED, mobilebert_trace

__all__ = ["MOBILEBERT_UNCASED", "mobilebert_trace"]
