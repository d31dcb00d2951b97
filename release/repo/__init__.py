"""Git plumbing: the one gateway that runs git, names, the repository lock, safe writes, leftovers."""
