"""A run told to people: the terminal timeline and summary, the timeline figure and its marks, the HTML report."""
