"""Progressive delivery on top of the cluster: Argo Rollouts (argo/) and Unleash feature flags (flags/)."""
