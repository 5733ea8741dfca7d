"""Full pages: the layout around the same fragments the API renders for htmx."""
