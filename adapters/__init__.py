"""Platform adapters: one sub-package per platform; each imports only its own SDK."""
