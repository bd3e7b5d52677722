"""A local Run:ai control plane: same paths, bodies and codes as the official API."""

from bot.emulator.app import create_app
from bot.emulator.org import CLUSTER_ID
from bot.emulator.state import EmulatorState, pod_id

__all__ = ["CLUSTER_ID", "EmulatorState", "create_app", "pod_id"]
