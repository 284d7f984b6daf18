// Placeholder until the destination client lands.
