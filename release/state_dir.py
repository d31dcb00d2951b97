"""Moved to release.records, which owns the state-directory rule and the record paths."""

from release.records import read_json, state_dir, write_json

__all__ = ["read_json", "state_dir", "write_json"]
