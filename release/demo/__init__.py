"""The self-contained walkthrough: sandbox worlds and local daemons. Only `demo` imports it."""
