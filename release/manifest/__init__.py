"""The patch manifest: its model and validation, the text edits the tool owns, release versions."""
