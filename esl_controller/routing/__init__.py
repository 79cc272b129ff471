"""Pure call logic: scripts that yield Actions and receive Outcomes. No I/O, no clock reads."""
