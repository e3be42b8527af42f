"""Command groups of the ``riskstream`` console script, one module per area."""
