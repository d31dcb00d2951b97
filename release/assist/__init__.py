"""The maintainer's assistant: checks of the whole release chain."""
