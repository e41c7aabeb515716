"""Device layer: vocabulary, adapters, simulator and recordings.

Knows nothing of alarms, storage or the web (DESIGN.md, "Layers").
"""
