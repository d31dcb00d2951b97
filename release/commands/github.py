"""CLI commands for this area (filled in by the module's owner)."""

import click

COMMANDS: list[click.Command] = []
