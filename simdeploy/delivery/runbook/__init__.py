"""Runbooks in the simulation: a trigger pages the team, responders acknowledge, steps run in order."""
