"""gradcheck: a verification and property-testing suite for autograd engines."""
