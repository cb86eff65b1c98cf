"""Repository commands called by the GitHub Actions workflows (run as ``python -m scripts.X``)."""
