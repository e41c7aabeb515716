"""Infusion Monitor: acquisition, rules, store, dashboard and command line."""

__version__ = "0.1.0"
