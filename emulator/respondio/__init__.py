"""A small respond.io Developer API v2 emulator for tests, demos and benchmarks."""

from emulator.respondio.app import create_app
from emulator.respondio.state import RespondioEmulator

__all__ = ["RespondioEmulator", "create_app"]
