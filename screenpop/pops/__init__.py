"""Screen pops: the caller's context sent to the advisor whose phone rings, then updated on answer and end
(`notifier.py` builds and sends them; `service.py` reads them back and looks up the caller's context)."""
