"""Model clients behind one Protocol, and the pricing of their calls."""
