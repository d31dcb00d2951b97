"""Deploy logic shared by the Ansible role and the `deploy` command."""
