"""Compatibility alias: the report's Markdown moved to ``mlgate.render.markdown``.

Kept for ``tests/workflows/test_pr_comment.py`` (outside the renderer's owners); import
from ``mlgate.render.markdown`` instead. To be removed once nothing imports it.
"""

from mlgate.render.markdown import MARKER

__all__ = ["MARKER"]
