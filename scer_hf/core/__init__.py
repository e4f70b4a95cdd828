"""The framework-agnostic core: meters, phase tracker, carbon, embodied, SCI, reports, calculator.

Imports without torch or transformers; imports nothing from rating, publish, hf or cli."""
