"""The advisor's desk: the page, the advisor's presence, the end of the wrap-up once a call is qualified."""
