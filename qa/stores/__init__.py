"""Vector stores: the interface every store offers, and the exact in-process store used by default."""
