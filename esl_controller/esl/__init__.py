"""ESL layer: frame parser, outbound server/session, inbound client, header parsing."""

from esl_controller.esl.headers import BadChannelDataError, parse_channel_data
from esl_controller.esl.inbound import AuthenticationError, InboundClient, PresencePublisher
from esl_controller.esl.protocol import Frame, FrameReader, ProtocolError
from esl_controller.esl.server import (
    ControllerServer,
    ControllerSession,
    EslError,
    EslTimeoutError,
    OutboundSessionHasGoneAway,
)

__all__ = [
    "AuthenticationError",
    "BadChannelDataError",
    "ControllerServer",
    "ControllerSession",
    "EslError",
    "EslTimeoutError",
    "Frame",
    "FrameReader",
    "InboundClient",
    "OutboundSessionHasGoneAway",
    "PresencePublisher",
    "ProtocolError",
    "parse_channel_data",
]
