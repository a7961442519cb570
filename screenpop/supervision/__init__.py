"""The supervisors' slice: the live wallboard (`/supervision`), its JSON snapshot (`/api/supervision`) and the
supervisor's actions on an advisor (pause, log out, with a reason)."""
