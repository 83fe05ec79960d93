"""Kubernetes object shapes, manifest loading and the upstream helper arithmetic, as plain functions on dicts."""
