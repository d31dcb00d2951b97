"""The fork's image: build, promote, the registry client, the build cache and signatures."""
