"""The fork's README: the generated fork block over upstream's README."""
