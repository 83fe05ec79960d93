"""Unleash feature flags: the client-specification evaluator and the flags' effect on traffic."""
