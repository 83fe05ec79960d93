"""Game days: the simulation served as a cluster to a team, the facilitator's faults hidden in it, their commands
read back, and the after-action record against the runbook's predicted figures."""
