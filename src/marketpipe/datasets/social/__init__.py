"""Social datasets (X, Truth Social)."""
