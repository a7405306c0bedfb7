"""Human review of drafted letters: the actions and the service a CLI or web UI calls."""
