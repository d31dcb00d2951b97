"""GitHub: the release pull request, the nightly tracking issue and the report."""
