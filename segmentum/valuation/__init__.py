"""Where to play: typing tool, scoring, projection onto the customer base, valuation, priorities."""
