"""The command line: parsing, output, and the commands that call the areas."""

from release.cli.app import main

__all__ = ["main"]
