"""GPU smoke checks: pure functions over Kubernetes objects, `sky` output and GPU tool output."""
