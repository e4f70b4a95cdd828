"""Thin Hugging Face adapters: the Trainer callback, the pipeline wrapper, the benchmark protocol,
quality, the push hook and the demo. The only layer that imports torch/transformers (lazily)."""
