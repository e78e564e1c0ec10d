"""Ticket lifecycle: numbering, routing, the SLA clock, callbacks, reminders, notifications."""
