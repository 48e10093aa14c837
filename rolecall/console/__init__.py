"""The web console `rolecall serve` answers at /console/ (rolecall.console.app)."""
