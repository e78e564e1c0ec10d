"""The officers' desk: web UI for officers, callback staff and supervisors, and the JSON API."""
