"""Output table schemas and the builders that shape kernel arrays into them."""
