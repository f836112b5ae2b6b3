"""junction_mockllm."""
