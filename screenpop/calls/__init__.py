"""Calls: qualification, transfer of the live call, the caller's history (`http.py`, `service.py`; SQL in
`storage/qualification.py`)."""
