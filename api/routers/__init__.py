"""One router per read model, plus health/readiness/status."""
