"""What Prometheus sees: scrapes into an in-memory TSDB, PromQL over it, and alerting rules."""
