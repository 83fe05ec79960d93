"""Argo Rollouts: the Rollout controller (canary, blue-green), its operator commands and AnalysisRuns."""
