"""The simulation: the cluster (cluster/), the requests it serves (traffic/), what Prometheus sees (metrics/)."""
