"""Plain types of the one domain model; no I/O.

Plain types of the one domain model every wire format converts into. No I/O lives here."""
