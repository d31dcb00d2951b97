"""ellm-release: the release tool for EmbeddedLLM's SkyPilot fork."""

__version__ = "0.1.0"
