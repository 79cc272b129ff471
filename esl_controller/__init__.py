"""Event-sourced call controller for a hosted business telephone exchange."""
