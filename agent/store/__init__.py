"""Storage behind one interface: runs, denials, work queues, letters and the audit trail."""
