"""Guard rails around the Slack app: the policy enforced at the Run:ai boundary, the
audit trail, and repeated deliveries dropped. `install_guard(app, policy, audit)`."""

from bot.guard.gate import Gate, PolicyDenied
from bot.guard.install import Guard, StoreNotes, install_guard

__all__ = ["Gate", "Guard", "PolicyDenied", "StoreNotes", "install_guard"]
