"""Read models folded from the event log: each resumable, exactly once, rebuildable."""
