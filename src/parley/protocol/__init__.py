"""Parley's wire protocol: message models, error codes and the frame codec."""
