"""The floor for ``make bench``: a bare greenswitch outbound server that answers and hangs up.

Same stack (gevent + greenswitch 0.0.19 as released), no routing, no store: what any call
costs before our controller does anything.
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all(queue=False)

import logging  # noqa: E402
import sys  # noqa: E402

from greenswitch.esl import OutboundESLServer, OutboundSession  # noqa: E402


class AnswerAndHangup:
    def __init__(self, session: OutboundSession) -> None:
        self.session = session

    def run(self) -> None:
        self.session.myevents()
        self.session.linger(30)
        self.session.answer()
        self.session.hangup()


def main() -> None:
    logging.basicConfig(level=logging.ERROR)
    port = int(sys.argv[1])
    server = OutboundESLServer("127.0.0.1", port, AnswerAndHangup, max_connections=100000)
    server.listen()


if __name__ == "__main__":
    main()
