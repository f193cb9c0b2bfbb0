"""Plain types of the one domain model every wire format converts into. No I/O lives here."""
