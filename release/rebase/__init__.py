"""The rebase: planning, the resumable replay state machine, status, sync, upstream and its changes."""
