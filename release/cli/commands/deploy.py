"""`ellm-release deploy`: run playbooks/deploy.yml with the repository's manifest.

A convenience only: the playbook stays usable on its own with ansible-playbook, and this command
adds nothing the playbook does not do. Arguments after `--` go to ansible-playbook unchanged.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import click

from release.cli.examples import examples
from release.cli.output import Options, pass_options
from release.deploy.logic import ansible_env, playbook_command
from release.errors import Failed, Refused
from release.manifest.versions import InvalidVersion


def find_ansible_playbook() -> str:
    """ansible-playbook from this Python's environment first (pip install .[deploy]), then PATH."""
    beside = Path(sys.executable).parent / "ansible-playbook"
    if beside.is_file():
        return str(beside)
    found = shutil.which("ansible-playbook")
    if found:
        return found
    raise Refused("ansible-playbook is not installed",
                  hints=["pip install '.[deploy]'   (Ansible with kubernetes.core, and the kubernetes client)"])


@examples(
    "ellm-release deploy",
    "ellm-release deploy -i playbooks/inventories/kind --version 0.13.0 -- --check --diff",
    "ellm-release deploy -- --ask-vault-pass",
    "ellm-release deploy --rollback",
    "ellm-release deploy --rollback --to-revision 3 -i playbooks/inventories/production",
)
@click.command(context_settings={"ignore_unknown_options": True})
@click.option("-i", "--inventory", type=click.Path(path_type=Path), default=None,
              help="Inventory folder [default: playbooks/inventories/production].")
@click.option("--version", "version", default=None,
              help="Release to deploy [default: the manifest's upstream.version].")
@click.option("--rollback", is_flag=True,
              help="Roll the release back to an earlier Helm revision instead (playbooks/rollback.yml).")
@click.option("--to-revision", "to_revision", type=click.IntRange(min=1), default=None, metavar="N",
              help="With --rollback: the Helm revision to go back to [default: the newest earlier one that ran].")
@click.argument("ansible_args", nargs=-1, type=click.UNPROCESSED)
@pass_options
def deploy(opts: Options, inventory: Path | None, version: str | None, rollback: bool, to_revision: int | None,
           ansible_args: tuple[str, ...]) -> None:
    """Deploy the SkyPilot API server with playbooks/deploy.yml, or roll it back with --rollback.

    Chart version and image tag come from the manifest and must agree; the image is pinned by
    digest. --dry-run runs the playbook with --check --diff. Credentials are never taken on the
    command line: use Ansible Vault or SKYPILOT_AUTH_CREDENTIALS.

    --rollback runs playbooks/rollback.yml: helm rollback to the newest earlier revision that ran
    (or --to-revision N), a record of what runs now in the state dir (deployed/), and a check of
    /api/health. It refuses when there is no earlier revision."""
    if to_revision is not None and not rollback:
        raise Refused("--to-revision goes with --rollback", hints=["ellm-release deploy --rollback --to-revision N"])
    if rollback and version:
        raise Refused("--rollback goes back to a revision Helm recorded, not to a --version",
                      hints=["helm history RELEASE -n NAMESPACE   # the revisions and their charts",
                             "ellm-release deploy --rollback --to-revision N"])
    root = opts.manifest.resolve().parent.parent
    playbook = root / "playbooks" / ("rollback.yml" if rollback else "deploy.yml")
    # a manifest kept without playbooks beside it (a sandbox, a second release repository) is
    # deployed with this checkout's playbooks: the manifest reaches them as skypilot_manifest
    own_root = Path(__file__).resolve().parents[3]
    if not playbook.is_file() and (own_root / "playbooks" / playbook.name).is_file():
        root, playbook = own_root, own_root / "playbooks" / playbook.name
    if not playbook.is_file():
        raise Refused(f"no {playbook.stem} playbook at {playbook}",
                      hints=["run from the release repository, or pass --manifest of the release repository"])
    inventory = inventory or root / "playbooks" / "inventories" / "production"
    # ansible-playbook only warns about an inventory it cannot read, matches no hosts and exits 0:
    # a deploy that did nothing must not look like a success. (`-i host1,host2,` is a host list.)
    if "," not in str(inventory) and not inventory.exists():
        known = sorted(p.name for p in (root / "playbooks" / "inventories").iterdir() if p.is_dir())
        raise Refused(f"the inventory {inventory} does not exist",
                      hints=[f"inventories in this repository: {', '.join(known)} "
                             f"(-i {root / 'playbooks' / 'inventories'}/NAME)"])
    try:
        argv = playbook_command(find_ansible_playbook(), playbook, inventory, manifest=opts.manifest.resolve(),
                                version=version, check=opts.dry_run, passthrough=ansible_args,
                                rollback_revision=to_revision)
    except InvalidVersion as exc:
        raise Refused(str(exc)) from None
    # exactly what runs: quoted for a shell, on one line however long (no wrapping)
    opts.say(f"$ {shlex.join(argv)}", style="dim", soft_wrap=True)
    # Under --json stdout carries only our JSON document, so Ansible's output goes to stderr.
    rc = subprocess.call(argv, stdout=sys.stderr if opts.json else None, env=ansible_env(root, os.environ))
    opts.emit({"command": argv, "returncode": rc})
    if rc != 0:
        raise Failed(f"the {playbook.stem} playbook failed (ansible-playbook exit {rc})")

