"""The audit trail: who did (or was refused) what to which workload, where and when."""

from bot.audit.store import AuditEntry, AuditLog, record_auto_scaled
from bot.watch.db.schema import audit_events

__all__ = ["AuditEntry", "AuditLog", "audit_events", "record_auto_scaled"]
