"""The papers' claims, one module per claim (``bench reproduce --list``); see bench/claims.py."""
