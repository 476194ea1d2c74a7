"""One module per provider API shape; each turns a request into a scripted reply."""
