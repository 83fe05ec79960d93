"""Traffic: endpoints as the data plane sees them, request rates and the fluid request model."""
