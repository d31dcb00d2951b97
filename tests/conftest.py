"""Fixtures every test area can use; the plumbing itself lives in tests/support/."""

pytest_plugins = ("support.worlds", "support.daemons")
