"""Publishing: model cards, labels, the HTML report and verification.

Imports the core and the rating, never the Hugging Face adapters or the CLI."""
