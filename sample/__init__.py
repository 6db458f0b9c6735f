"""Synthetic STATUS, STORM-HOBIT and activity exports with their known answers (`lofte sample`)."""

from sample.generator import SampleSummary, write_sample

__all__ = ["SampleSummary", "write_sample"]
