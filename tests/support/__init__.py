"""Plumbing shared by every test area (tests/<area>/ imports it as `support`, through pytest's
`pythonpath`): the CLI runner, git, manifests, the local daemons and the tools a test needs.

    support.cli       run_cli(): `ellm-release` in this process through release.cli.app.main
    support.git       git() and commit_files() for the repositories a test builds
    support.manifests manifest_text() / write_manifest(): one manifest factory
    support.daemons   fixtures: a private dockerd and local registries (registered in tests/conftest.py)
    support.worlds    fixtures: sandbox worlds (upstream, fork, release repository) and `cli`
    support.tools     need_tool(): a missing program fails the test with the command that installs it
"""
