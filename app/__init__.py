"""Rectify: the ledger and workflow of a county's campaign against weak and lax party branches."""
