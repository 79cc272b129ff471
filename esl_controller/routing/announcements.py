"""What callers hear when a call cannot be completed.

Tone streams are built into FreeSWITCH, so these work on a stock installation with no sound
files. The special information tone (SIT) precedes "number unobtainable" style messages.
"""

from __future__ import annotations

SIT = "tone_stream://%(274,0,913.8);%(274,0,1370.6);%(380,0,1776.7)"
UNALLOCATED = SIT
BARRED = SIT
SERVICE_UNAVAILABLE = "tone_stream://%(274,0,913.8);%(274,0,1428.5);%(380,0,1776.7)"
INTERCEPTED = SIT
ANONYMOUS_REJECTED = "tone_stream://%(500,500,480,620);loops=3"
CONFIRM = "tone_stream://%(100,100,1400);loops=3"  # feature code accepted

