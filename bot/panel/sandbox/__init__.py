"""A panel that speaks the SMM API over loopback HTTP and buys nothing: for demos and tests."""

from bot.panel.sandbox.catalogue import DEMO_CATALOGUE, SANDBOX_PANELS, DemoService, SandboxPanelSpec
from bot.panel.sandbox.engine import Dialect, SandboxClock, SandboxPanel
from bot.panel.sandbox.panels import StartedSandboxPanel, start_sandbox_panels, stop_sandbox_panels
from bot.panel.sandbox.server import FaultKind, Raw, SandboxServer, Tamper

__all__ = [
    "DEMO_CATALOGUE",
    "SANDBOX_PANELS",
    "DemoService",
    "Dialect",
    "FaultKind",
    "Raw",
    "SandboxClock",
    "SandboxPanel",
    "SandboxPanelSpec",
    "SandboxServer",
    "StartedSandboxPanel",
    "Tamper",
    "start_sandbox_panels",
    "stop_sandbox_panels",
]
