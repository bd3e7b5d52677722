"""The audit trail: who did (or was refused) what to which workload, where and when."""

from bot.audit.store import AuditEntry, AuditLog, auto_scaled_row
from bot.watch.db.schema import audit_events

__all__ = ["AuditEntry", "AuditLog", "audit_events", "auto_scaled_row"]
