"""Yuyao demo data: real department and town names, a realistic resource catalogue."""
