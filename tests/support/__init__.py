"""Plumbing shared by every test area (tests/<area>/ imports it as `support`, through pytest's
`pythonpath`): the CLI runner, git, manifests, the local daemons and the tools a test needs.

    support.cli          run_cli(): `ellm-release` in this process through release.cli.app.main;
                         child_argv() / child_env() for a run in its own process
    support.git          git(), init_repo() and commit_files() for the repositories a test builds
    support.manifests    manifest_text() / write_manifest(): the one manifest factory
    support.worlds       fixtures: sandbox worlds (upstream, fork, release repository) and `cli`
    support.daemons      fixtures: a private dockerd and local registries; AuthRegistry and kill()
    support.registry_api pushes and reads straight through the registry API
    support.tools        need_tool(): a missing program fails the test with the command that installs it
    support.paths        where the checkout and its real manifest are

tests/conftest.py registers the fixture modules (support.worlds, support.daemons) for every area.
"""
