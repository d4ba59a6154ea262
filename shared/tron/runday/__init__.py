"""Everything behind `tron run-day`: one virtual-day loop (loop.py) on the embedded backend (embedded.py),
against the Kite simulator (kite_sim.py), on the Google Cloud stand-ins (emulators.py), and metered per
function invocation (metered.py)."""
