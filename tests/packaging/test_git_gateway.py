"""Git runs in one place: the gateway modules in release/repo/. Everything else asks them named
questions, so that how git is asked (and how many processes it takes) can change in one place.
CONTRIBUTING.md ("Git") says what the gateway offers."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "release"
GATEWAY = {f"repo/{name}.py" for name in ("gitproc", "gitrepo", "githistory", "gitworktree", "gitwrite",
                                           "gitobjects", "memorypick")}
# The demo builds its sandbox worlds with git the way a person would; it is no part of the product
# (the wheel can leave it out) and nothing in the product imports it.
OUTSIDE_THE_PRODUCT = ("demo/",)
# Attributes only the repository handle (`gitproc.Repo`, shaped like GitPython's) or GitPython itself
# has: reading one means running git, or reading its files, past the gateway.
GITPYTHON_ONLY = {"git", "iter_commits", "hexsha", "common_dir", "git_dir", "working_tree_dir", "is_dirty",
                  "untracked_files", "active_branch", "heads", "remotes"}
# The gateway's own process runner: only the gateway modules use it.
PROCESS_RUNNER = "release.repo.gitproc"
# What runs a command line given as one string (through a shell).
SHELL_RUNNERS = {"system", "popen", "run", "Popen", "call", "check_call", "check_output", "getoutput",
                 "getstatusoutput"}


def git_uses(source: str) -> list[tuple[int, str]]:
    """(line, what) for each way `source` runs git itself."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, f"import {a.name}") for a in node.names
                      if a.name.split(".")[0] == "git" or a.name == PROCESS_RUNNER]
        elif isinstance(node, ast.ImportFrom) and node.module and (
                node.module.split(".")[0] == "git" or node.module == PROCESS_RUNNER
                or (node.module == "release.repo" and any(a.name == "gitproc" for a in node.names))):
            found.append((node.lineno, f"from {node.module} import ..."))
        elif isinstance(node, ast.Attribute) and node.attr in GITPYTHON_ONLY and not _asks_the_gateway(node):
            found.append((node.lineno, f"GitPython's .{node.attr}"))
        elif isinstance(node, ast.Call) and node.args and _runs_git(node):
            found.append((node.lineno, "a git process"))
    return found


def _asks_the_gateway(node: ast.Attribute) -> bool:
    """`gitrepo.git_dir(...)`: a gateway function that shares a name with a GitPython attribute."""
    return isinstance(node.value, ast.Name) and node.value.id in {Path(name).stem for name in GATEWAY}


def _runs_git(call: ast.Call) -> bool:
    """An argv that starts with "git" (whatever runs it), or a shell command line that does."""
    argv = call.args[0]
    if isinstance(argv, (ast.List, ast.Tuple)) and argv.elts:
        first = argv.elts[0]
        return isinstance(first, ast.Constant) and first.value == "git"
    func = call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", "")
    return (func in SHELL_RUNNERS and isinstance(argv, ast.Constant) and isinstance(argv.value, str)
            and argv.value.lstrip().startswith("git "))


def _product_modules() -> list[Path]:
    modules = []
    for path in sorted(PACKAGE.rglob("*.py")):
        name = path.relative_to(PACKAGE).as_posix()
        if name not in GATEWAY and not name.startswith(OUTSIDE_THE_PRODUCT):
            modules.append(path)
    return modules


def test_only_the_gateway_runs_git() -> None:
    offenders = [f"release/{path.relative_to(PACKAGE).as_posix()}:{line}: {what}"
                 for path in _product_modules() for line, what in git_uses(path.read_text(encoding="utf-8"))]
    assert not offenders, "run git through release/repo's gateway instead:\n" + "\n".join(offenders)


def test_the_gateway_modules_exist_and_do_run_git() -> None:
    # a gateway module renamed away would make the check above pass for the wrong reason
    for name in GATEWAY:
        assert git_uses((PACKAGE / name).read_text(encoding="utf-8")), name


@pytest.mark.parametrize("source", [
    "import git\n",
    "import git as gitmodule\n",
    "from git import Repo\n",
    "def f():\n    from git.exc import GitCommandError\n",
    "from release.repo.gitproc import GitCommandError\n",
    "from release.repo import gitproc\n",
    "repo.git.log('-1')\n",
    "sha = repo.head.commit.hexsha\n",
    "where = Path(repo.git_dir)\n",
    "for c in repo.iter_commits('HEAD'):\n    pass\n",
    "subprocess.run(['git', 'status'], check=True)\n",
    "subprocess.Popen(('git', 'log'))\n",
    "os.system('git status')\n",
    "subprocess.run('git fetch && git status', shell=True)\n",
    "run(['git', '-C', str(path), 'status'])\n",
])
def test_the_check_sees_each_way_of_running_git(source: str) -> None:
    assert git_uses(source)


@pytest.mark.parametrize("source", [
    "from release.repo import gitrepo\nsha = gitrepo.rev(repo, 'HEAD')\n",
    "lock = gitrepo.git_dir(repo) / 'index.lock'\n",
    "subprocess.run(['docker', 'buildx', 'version'])\n",
    "path = repo.working_dir / '.git'\n",
    "print('git is fine in a message')\n",
    "@examples('git -C skypilot add x && ellm-release continue')\ndef f():\n    pass\n",
])
def test_the_check_leaves_other_code_alone(source: str) -> None:
    assert not git_uses(source)
