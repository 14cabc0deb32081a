"""Parley: self-hosted WebRTC voice and video calls."""

__version__ = "0.1.0"
