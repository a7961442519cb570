"""The directory: the département's services (with their opening hours) and the communes of France."""
