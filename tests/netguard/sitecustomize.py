"""Loaded by every Python process the tests start (PYTHONPATH points here):
the same loopback-only guard as the test process itself."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
from tests.netguard.guard import install  # noqa: E402

install()
