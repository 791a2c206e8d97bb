"""Learning: training loop, walks, plasticity, lobes, neuromodulation."""
