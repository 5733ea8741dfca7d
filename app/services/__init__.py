"""Domain rules and queries, called alike by the JSON side, the HTML side, the CLI and tests."""
