"""The browser console: live faceplates, trends, alarms, audit trail and performance of running loops."""
