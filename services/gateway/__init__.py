"""gateway: the only public entry. Authenticates at the edge, forwards and aggregates."""
