"""Access control around the Slack app: the policy enforced at the Run:ai boundary, the
audit trail, and repeated deliveries dropped. Built before the app and passed in:

    access = build_access(runai, slack, watcher, policy, audit)
    app = build_app(settings, access.runai, slack, access.watcher, orgs=access.orgs,
                    access=access)
"""

from bot.access.build import Access, StoreNotes, access_for_service, build_access
from bot.access.gate import Gate, PolicyDenied

__all__ = ["Access", "Gate", "PolicyDenied", "StoreNotes", "access_for_service", "build_access"]
