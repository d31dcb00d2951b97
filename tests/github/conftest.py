"""Fixtures for tests/github; the helpers themselves live in gh_fixtures.py.

This folder has no __init__.py on purpose: as a package named `github` it would hide PyGithub."""

from gh_fixtures import github, github_enterprise, workspace  # noqa: F401  (pytest fixtures)
