"""Drift: how far each file has moved from its accepted baseline and its component's spec."""
