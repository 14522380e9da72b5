"""What the destination holds (the read-back mirror) and reconciliation against it."""
