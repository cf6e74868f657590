"""Examples that extend v2x-sim from outside the package (importable from the repo root)."""
