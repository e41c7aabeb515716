"""The Dash dashboard (reads the store; owns no device connections)."""
