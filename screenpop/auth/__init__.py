"""Authentication: the login page, sessions, CSRF protection, login throttling (`http.py`, `service.py`)."""
