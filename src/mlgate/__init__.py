"""mlgate: quality gates, pull-request metric reports and a git-tag model registry for DVC."""

__version__ = "0.1.0"
