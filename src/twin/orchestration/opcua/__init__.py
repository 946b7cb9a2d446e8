"""OPC UA: the twin served as simulated hardware, and the control loop deployed against a gateway."""
