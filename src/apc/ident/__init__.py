"""System identification: models of a plant from its data (step tests, history)."""
