"""A panel that speaks the SMM API over loopback HTTP and buys nothing: for demos and tests."""

from bot.panel.sandbox.engine import Dialect, SandboxClock, SandboxPanel
from bot.panel.sandbox.server import FaultKind, Raw, SandboxServer, Tamper

__all__ = ["Dialect", "FaultKind", "Raw", "SandboxClock", "SandboxPanel", "SandboxServer", "Tamper"]
